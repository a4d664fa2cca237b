/**
 * Bytes this process caused to be written to storage (Linux /proc/<pid>/io,
 * `write_bytes`: what actually reaches the block device, the figure that wears
 * an SD card). null where the kernel does not provide it.
 */
import { readFileSync } from 'node:fs';

export function diskWrittenBytes(): number | null {
  try {
    const m = /^write_bytes:\s+(\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}
