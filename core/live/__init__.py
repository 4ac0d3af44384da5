"""The live eBPF capture engine (BCC as the compiler, syscall tracepoints only). The capture process
never imports bcc: a compiled program comes from a cache, or from a short-lived compiler child.

- `specs.py`: which scap event each seed syscall becomes and where each parameter comes from.
- `probes.py` + `bpf_common.c`: the BPF C program, a pure function of the syscall set, the snaplen
  bucket, the enabled filter axes and whether I/O is added up in the kernel (filter values only
  ever go into maps).
- `compiler.py`: the child process that compiles the source with bcc and hands back the bytecode.
- `objcache.py`: the compiled-program cache (/var/cache/chisel, keyed by source and kernel).
- `bpfsys.py`: bpf(2) and perf_event_open(2) through ctypes: maps, program load, tracepoint attach.
- `loader.py`: a cached program made live: maps created, map fds relocated, programs attached.
- `ringbuf.py`: reads the ring buffer straight from its memory mapping.
- `decode.py`: raw records to `Event`s, in batches.
- `aggregate.py`: turns the kernel's running I/O totals into per-fd deltas for chisels that take them.
- `gate.py`: a command held before its first syscall until the probes are attached.
- `engine.py`: `LiveSource`, which ties them together.
"""
