"""The live eBPF capture engine (BCC, syscall tracepoints only; bcc is imported only by engine.py
when a `LiveSource` starts).

- `specs.py`: which scap event each seed syscall becomes and where each parameter comes from.
- `probes.py` + `bpf_common.c`: the BPF C program, a pure function of the syscall set, the snaplen
  bucket and the enabled filter axes (filter values only ever go into maps).
- `ringbuf.py`: reads the ring buffer straight from its memory mapping.
- `decode.py`: raw records to `Event`s, in batches.
- `gate.py`: a command held before its first syscall until the probes are attached.
- `engine.py`: `LiveSource`, which ties them together.
"""
