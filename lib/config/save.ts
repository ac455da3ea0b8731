/** Writing configuration files: atomically, with the previous version kept. */

/** Suffix of the previous version kept next to a rewritten file. */
export const PREVIOUS_SUFFIX = ".prev";

function randomSuffix(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Replaces the file at `path` with `text` atomically: the text goes to a temporary file in the
 * same directory (same mode as the old file), is flushed to disk, the old file is copied to
 * `<path>.prev`, and the temporary file is renamed over `path`. A reader sees either the old
 * or the new text, never a mix; after a crash `path` holds one of the two.
 *
 * @example
 * ```ts
 * await saveConfigText("conf/rockhopper.xml", newText); // conf/rockhopper.xml.prev holds the old text
 * ```
 */
export async function saveConfigText(
  path: string,
  text: string,
  options: { keepPrevious?: boolean } = {},
): Promise<void> {
  let mode = 0o644;
  let exists = false;
  try {
    const info = await Deno.stat(path);
    exists = true;
    if (info.mode !== null) mode = info.mode & 0o777;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const temporary = `${path}.tmp-${randomSuffix()}`;
  const file = await Deno.open(temporary, { write: true, createNew: true, mode });
  try {
    const bytes = new TextEncoder().encode(text);
    let written = 0;
    while (written < bytes.length) written += await file.write(bytes.subarray(written));
    await file.sync();
  } catch (e) {
    file.close();
    await Deno.remove(temporary).catch(() => {});
    throw e;
  }
  file.close();
  try {
    if (exists && (options.keepPrevious ?? true)) {
      await Deno.copyFile(path, `${path}${PREVIOUS_SUFFIX}`);
    }
    await Deno.rename(temporary, path);
  } catch (e) {
    await Deno.remove(temporary).catch(() => {});
    throw e;
  }
}
