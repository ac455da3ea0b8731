# The Deno permissions the appliance runs with, in one place: sourced by scripts/start.sh
# and compile.sh so that `deno run` and the compiled executable behave the same.
#   read  configuration files; the web GUI          net  UDP 500/4500 (Deno.listenDatagram)
#   ffi   libc (TUN, setuid for -u/-s), libcrypto   sys  network interfaces (NAT detection)
#   run   the secure process: this executable again (`rockhopper secure ...`, under
#         `deno run` the deno binary); it alone runs `ip` (addresses, MTU, routes)
#   net   also the management server (TCP 127.0.0.1:32501 by default) and `rockhopper ctl`
#   write rockhopper.xml rewritten by realm changes over the management bus (a temporary file
#         next to it, then a rename; the old version kept as rockhopper.xml.prev)
#   env   `rockhopper ctl`: RHP_PASSWORD, RHP_USER, RHP_URL; RHP_GCM_PROVIDER_ONLY=1 keeps
#         AES-GCM on OpenSSL's provider path (FIPS, lib/sys/evp_gcm.ts)
#
# These are the main process's. The secure process gets less (lib/auth/secure/command.ts):
# under `deno run` exactly `--allow-read=<rockhopper.xml, auth.xml, the key store files>
# --allow-run=ip` (+ `--allow-ffi` with -s); a compiled executable cannot be given fewer
# permissions than it was built with, so there it revokes read, write, net, env, sys and ffi
# itself once it has read its files. After start-up the main process revokes read and write of
# auth.xml and the key store (effective when --allow-read is a list of files, see
# conf/README.md "Processes"), and with -u also run.
# shellcheck disable=SC2034
RHP_PERMISSIONS=(--allow-read --allow-net --allow-ffi --allow-run --allow-sys=networkInterfaces
  --allow-write --allow-env=RHP_PASSWORD,RHP_USER,RHP_URL,RHP_GCM_PROVIDER_ONLY)
