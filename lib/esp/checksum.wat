;; The Internet checksum (RFC 1071) over WebAssembly memory, with 128-bit SIMD: the data-plane
;; workers keep their packet buffers in this memory (lib/esp/_checksum_wasm.ts), so that the
;; per-segment TCP checksums of GSO splitting and GRO coalescing run here rather than in a
;; JavaScript loop (≈ 50 ns instead of ≈ 270 ns per 1400 bytes on the lab machine).
;;
;; `copy` and `copy_sum` move packet bytes inside the memory (the payloads of split segments
;; and of coalesced frames) without a JavaScript view per copy; `copy_sum` also returns the sum
;; of the bytes it copied, in the same pass.
;;
;; The bytes embedded in _checksum_wasm.ts are this file assembled with wabt (npm:wabt, SIMD
;; and bulk memory enabled); test/esp/checksum_wasm_test.ts assembles it again and compares.
(module
  (import "env" "memory" (memory 1))
  ;; One's complement sum of the little-endian 16-bit words of memory[ptr, ptr + len), an odd
  ;; last byte as a low byte, folded to 16 bits (not complemented).
  (func $sum (export "sum") (param $ptr i32) (param $len i32) (result i32)
    (local $end i32) (local $blockEnd i32) (local $acc v128) (local $s i64)
    (local.set $end (i32.add (local.get $ptr) (i32.and (local.get $len) (i32.const -16))))
    (block $done
      (loop $blocks
        (br_if $done (i32.ge_u (local.get $ptr) (local.get $end)))
        ;; at most 4096 vectors (64 KiB) per block: a lane then stays below 2^32
        (local.set $blockEnd (i32.add (local.get $ptr) (i32.const 65536)))
        (if (i32.gt_u (local.get $blockEnd) (local.get $end))
          (then (local.set $blockEnd (local.get $end))))
        (local.set $acc (v128.const i64x2 0 0))
        (loop $vectors
          (local.set $acc (i32x4.add (local.get $acc)
            (i32x4.extadd_pairwise_i16x8_u (v128.load (local.get $ptr)))))
          (local.set $ptr (i32.add (local.get $ptr) (i32.const 16)))
          (br_if $vectors (i32.lt_u (local.get $ptr) (local.get $blockEnd))))
        (local.set $s (i64.add (local.get $s)
          (i64.add
            (i64.add (i64.extend_i32_u (i32x4.extract_lane 0 (local.get $acc)))
                     (i64.extend_i32_u (i32x4.extract_lane 1 (local.get $acc))))
            (i64.add (i64.extend_i32_u (i32x4.extract_lane 2 (local.get $acc)))
                     (i64.extend_i32_u (i32x4.extract_lane 3 (local.get $acc)))))))
        (br $blocks)))
    (local.set $len (i32.and (local.get $len) (i32.const 15)))
    (block $tailDone
      (loop $pairs
        (br_if $tailDone (i32.lt_u (local.get $len) (i32.const 2)))
        (local.set $s (i64.add (local.get $s) (i64.extend_i32_u (i32.load16_u (local.get $ptr)))))
        (local.set $ptr (i32.add (local.get $ptr) (i32.const 2)))
        (local.set $len (i32.sub (local.get $len) (i32.const 2)))
        (br $pairs)))
    (if (local.get $len)
      (then (local.set $s (i64.add (local.get $s) (i64.extend_i32_u (i32.load8_u (local.get $ptr)))))))
    (call $fold (local.get $s)))
  ;; memory[dst, dst + len) = memory[src, src + len) (the ranges may overlap).
  (func (export "copy") (param $dst i32) (param $src i32) (param $len i32)
    (memory.copy (local.get $dst) (local.get $src) (local.get $len)))
  ;; Copies like `copy` (the ranges must not overlap) and returns the sum of the copied bytes
  ;; exactly as `sum` would compute it over memory[dst, dst + len).
  (func (export "copy_sum") (param $dst i32) (param $src i32) (param $len i32) (result i32)
    (local $end i32) (local $blockEnd i32) (local $acc v128) (local $v v128) (local $s i64)
    (local.set $end (i32.add (local.get $src) (i32.and (local.get $len) (i32.const -16))))
    (block $done
      (loop $blocks
        (br_if $done (i32.ge_u (local.get $src) (local.get $end)))
        (local.set $blockEnd (i32.add (local.get $src) (i32.const 65536)))
        (if (i32.gt_u (local.get $blockEnd) (local.get $end))
          (then (local.set $blockEnd (local.get $end))))
        (local.set $acc (v128.const i64x2 0 0))
        (loop $vectors
          (local.set $v (v128.load (local.get $src)))
          (v128.store (local.get $dst) (local.get $v))
          (local.set $acc (i32x4.add (local.get $acc)
            (i32x4.extadd_pairwise_i16x8_u (local.get $v))))
          (local.set $src (i32.add (local.get $src) (i32.const 16)))
          (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
          (br_if $vectors (i32.lt_u (local.get $src) (local.get $blockEnd))))
        (local.set $s (i64.add (local.get $s)
          (i64.add
            (i64.add (i64.extend_i32_u (i32x4.extract_lane 0 (local.get $acc)))
                     (i64.extend_i32_u (i32x4.extract_lane 1 (local.get $acc))))
            (i64.add (i64.extend_i32_u (i32x4.extract_lane 2 (local.get $acc)))
                     (i64.extend_i32_u (i32x4.extract_lane 3 (local.get $acc)))))))
        (br $blocks)))
    ;; the last 0..15 bytes: copied, then summed like `sum` does (their offset is even)
    (local.set $len (i32.and (local.get $len) (i32.const 15)))
    (memory.copy (local.get $dst) (local.get $src) (local.get $len))
    (local.set $s (i64.add (local.get $s)
      (i64.extend_i32_u (call $sum (local.get $dst) (local.get $len)))))
    (call $fold (local.get $s)))
  ;; 64 → 16 bits with end-around carry.
  (func $fold (param $s i64) (result i32)
    (local.set $s (i64.add (i64.and (local.get $s) (i64.const 0xffffffff)) (i64.shr_u (local.get $s) (i64.const 32))))
    (local.set $s (i64.add (i64.and (local.get $s) (i64.const 0xffffffff)) (i64.shr_u (local.get $s) (i64.const 32))))
    (local.set $s (i64.add (i64.and (local.get $s) (i64.const 0xffff)) (i64.shr_u (local.get $s) (i64.const 16))))
    (local.set $s (i64.add (i64.and (local.get $s) (i64.const 0xffff)) (i64.shr_u (local.get $s) (i64.const 16))))
    (local.set $s (i64.add (i64.and (local.get $s) (i64.const 0xffff)) (i64.shr_u (local.get $s) (i64.const 16))))
    (i32.wrap_i64 (local.get $s))))
