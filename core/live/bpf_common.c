/* chisel live engine: maps and helpers shared by every generated probe.
 *
 * probes.py puts #defines for the sizes and the enabled filter axes above this text and the
 * per-syscall tracepoint programs below it. Filter VALUES never appear here: they live in maps.
 * A record is built in a per-CPU scratch buffer (header, u16 parameter lengths, values in scap
 * encoding) and copied to the ring buffer with BPF_RB_NO_WAKEUP; userspace drains on a timer.
 */
#include <uapi/linux/ptrace.h>
/* The one type the tracepoint formats name that no included header defines (ppoll's sigmask,
 * only ever read as a pointer). Declaring it here instead of including <linux/sched.h> saves
 * about 0.6 CPU-s of clang parsing per compile (2.45 -> 1.8 s for the 22-syscall state set). */
typedef struct { unsigned long sig[1]; } sigset_t;

#define HDR_SIZE 24
#define CHISEL_AF_UNIX 1
#define CHISEL_AF_INET 2
#define CHISEL_AF_INET6 10

struct rec_hdr { u64 ts; u32 tid; u16 type; u16 nparams; u32 cpu; u32 reserved; };
/* Syscall tracepoint programs may be preempted (migration stays disabled): another task on the
 * same CPU can start a record meanwhile, so each CPU has SCRATCH_SLOTS buffers with a busy flag. */
#define SCRATCH_SLOTS 4
struct scratch_t { u32 busy; u32 pad; u8 buf[REC_CAP + MAX_WRITE]; };
struct saved_t { u64 a[6]; u64 enter_id; };
struct iov_t { u64 base; u64 len; };
struct msghdr_t { u64 name; u32 namelen; u32 pad; u64 iov; u64 iovlen; };
/* local (s) and remote (d) end of a socket; ports in host order, addresses in network order */
struct rawtuple_t { u16 family; u16 sport; u16 dport; u16 pad; u8 saddr[16]; u8 daddr[16]; };
struct peerkey_t { u16 family; u16 port; u32 pad; u8 addr[16]; };
struct fdkey_t { u32 tgid; u32 fd; };
struct pathkey_t { char s[PATHKEY_LEN]; };
struct comm_t { char s[16]; };

BPF_PERCPU_ARRAY(scratch, struct scratch_t, SCRATCH_SLOTS);
BPF_PERCPU_ARRAY(pathbuf, struct pathkey_t, 1);
/* events lost, by cause: DROP_RING (the ring buffer refused the record), DROP_SCRATCH (no free
 * scratch buffer on this CPU), DROP_TOTALS (the I/O totals map was full) */
#define DROP_RING 0
#define DROP_SCRATCH 1
#define DROP_TOTALS 2
BPF_PERCPU_ARRAY(drop_count, u64, 3);
BPF_ARRAY(config, u64, 4);  /* 0: snaplen, 1: our own tgid (never traced), 2: fd axis off, 3: ready */
BPF_RINGBUF_OUTPUT(events, RB_PAGES);
/* tid -> args of the syscall in progress; LRU so threads killed inside a syscall cannot fill it */
BPF_TABLE("lru_hash", u32, struct saved_t, saved, 65536);
/* How many `saved` entries tids in each bucket may have: an exit whose bucket holds 0 has nothing
 * saved and skips the hash lookup, which is most exits of a session that filters in the kernel.
 * A count can only run high (an entry replaced, evicted or left by a killed thread keeps its
 * increment), costing a lookup; it never runs low, which would lose an event. */
#define PENDING_SLOTS 65536
BPF_ARRAY(pending, u32, PENDING_SLOTS);
BPF_TABLE("lru_hash", u32, u32, parent_of, 65536);
BPF_TABLE("lru_hash", u32, u32, exit_code, 65536);
BPF_TABLE("lru_hash", u64, u64, sk_owner, 16384);
BPF_TABLE("lru_hash", u32, struct rawtuple_t, tuple_by_tid, 16384);
BPF_TABLE("lru_hash", struct peerkey_t, struct rawtuple_t, accepted, 16384);
#ifdef AXIS_TRACED
BPF_HASH(traced, u32, u8, 65536);                /* tgids of the traced process tree */
#endif
#ifdef AXIS_PIDS
BPF_HASH(f_pids, u32, u8, 4096);
#endif
#ifdef AXIS_TIDS
BPF_HASH(f_tids, u32, u8, 4096);
#endif
#ifdef AXIS_UIDS
BPF_HASH(f_uids, u32, u8, 4096);
#endif
#ifdef AXIS_COMMS
BPF_HASH(f_comms, struct comm_t, u8, 1024);
#endif
#ifdef AXIS_FDS
BPF_HASH(fd_names, struct pathkey_t, u8, 1024);
BPF_TABLE("lru_hash", struct fdkey_t, u8, fd_watch, 65536);
BPF_TABLE("lru_hash", u32, u32, fd_parent, 65536);
/* fd number (mod FD_HINT_SLOTS) -> how many fd_watch pairs may have it, so that I/O on any other
 * fd is rejected with one array lookup instead of two hash misses. Kept like `pending` (it may
 * only run high); userspace adds FD_HINT_SEEDED for the fds the /proc scan finds open, a bias no
 * race with the programs' own adds can bring back to 0. */
BPF_ARRAY(fd_hint, u32, FD_HINT_SLOTS);
#endif

static __always_inline u64 cfg(int key)
{
    u64 *v = config.lookup(&key);
    return v ? *v : 0;
}

static __always_inline void bump(void *counter, int delta)
{
    if (counter)
        __sync_fetch_and_add((u32 *)counter, delta);
}

static __always_inline void pending_add(u32 tid, int delta)
{
    u32 k = tid & (PENDING_SLOTS - 1);
    bump(pending.lookup(&k), delta);
}

static __always_inline int pending_maybe(u32 tid)
{
    u32 k = tid & (PENDING_SLOTS - 1);
    u32 *c = pending.lookup(&k);
    return c && *c;
}

#ifdef EXIT_ONLY
/* The syscall's arguments, read at its exit from the registers the task entered it with (x86-64
 * syscall ABI: di, si, dx, r10, r8, r9). The kernel keeps the entry registers for the whole call
 * and changes only the result register, so the exit sees what an enter program would have, for
 * the syscalls specs.EXIT_ONLY_SYSCALLS lists. bpf_task_pt_regs is a BPF helper (Linux 5.15) and
 * the register frame is the architecture's user ABI, not a kernel struct that moves between
 * versions; the verifier checks each load against the running kernel's BTF. */
static __always_inline struct pt_regs *syscall_regs(void)
{
    return (struct pt_regs *)bpf_task_pt_regs((struct task_struct *)bpf_get_current_task_btf());
}

/* the register holding syscall argument i */
#define SYSCALL_ARG_0(r) ((r)->di)
#define SYSCALL_ARG_1(r) ((r)->si)
#define SYSCALL_ARG_2(r) ((r)->dx)
#define SYSCALL_ARG_3(r) ((r)->r10)
#define SYSCALL_ARG_4(r) ((r)->r8)
#define SYSCALL_ARG_5(r) ((r)->r9)

static __always_inline void syscall_args(struct saved_t *s, struct pt_regs *r)
{
    s->a[0] = SYSCALL_ARG_0(r);
    s->a[1] = SYSCALL_ARG_1(r);
    s->a[2] = SYSCALL_ARG_2(r);
    s->a[3] = SYSCALL_ARG_3(r);
    s->a[4] = SYSCALL_ARG_4(r);
    s->a[5] = SYSCALL_ARG_5(r);
}
#endif

static __always_inline int task_wanted(u64 id)
{
    u32 tgid = id >> 32;
    if (!cfg(3) || cfg(1) == tgid)
        return 0; /* nothing before userspace has filled the maps, nothing of our own */
#ifdef AXIS_TRACED
    if (!traced.lookup(&tgid))
        return 0;
#endif
#ifdef AXIS_PIDS
    if (!f_pids.lookup(&tgid))
        return 0;
#endif
#ifdef AXIS_TIDS
    u32 tid = (u32)id;
    if (!f_tids.lookup(&tid))
        return 0;
#endif
#ifdef AXIS_UIDS
    u32 uid = (u32)bpf_get_current_uid_gid();
    if (!f_uids.lookup(&uid))
        return 0;
#endif
#ifdef AXIS_COMMS
    struct comm_t c = {};
    bpf_get_current_comm(&c.s, sizeof(c.s));
    if (!f_comms.lookup(&c))
        return 0;
#endif
    return 1;
}

#ifdef AXIS_FDS
/* Can any watched pair have this fd number? The cheap first half of fd_wanted: programs ask it
 * before they even read their pid, since it rejects most calls with one array lookup. */
static __always_inline int fd_number_maybe(u64 fd)
{
    /* with a watched name the kernel cannot compare, userspace sets every slot: every fd passes */
    u32 slot = (u32)fd & (FD_HINT_SLOTS - 1);
    u32 *hint = fd_hint.lookup(&slot);
    return hint && *hint;
}

/* Is (tgid, fd) interesting, given fd_number_maybe(fd)? A forked child shares its ancestors' fds,
 * so their pairs count too (an over-approximation: userspace filters again, so an extra event is
 * harmless, a lost one not). */
static __always_inline int fd_pair_wanted(u32 tgid, u64 fd)
{
    struct fdkey_t k = {.tgid = tgid, .fd = (u32)fd};
    if (cfg(2))
        return 1; /* a watched name the kernel cannot compare: every fd passes */
    for (int i = 0; i < 4; i++) {
        if (fd_watch.lookup(&k))
            return 1;
        u32 *up = fd_parent.lookup(&k.tgid);
        if (!up)
            return 0;
        k.tgid = *up;
    }
    return 0;
}

static __always_inline int fd_wanted(u32 tgid, u64 fd)
{
    return fd_number_maybe(fd) && fd_pair_wanted(tgid, fd);
}

/* Could this path name a watched file without being spelled like it? The kernel compares names
 * byte for byte, but fd.name is the path made absolute and canonical: a relative path, or one
 * with "//", "/./" or "/../", is kept as interesting (an extra event is harmless, a lost one not). */
static __always_inline int path_needs_userspace(struct pathkey_t *pk)
{
    if (pk->s[0] != '/')
        return 1;
    for (int i = 0; i < PATHKEY_LEN - 3; i++) {
        char c = pk->s[i];
        if (c == 0)
            return 0;
        if (c != '/')
            continue;
        char c1 = pk->s[i + 1], c2 = pk->s[i + 2], c3 = pk->s[i + 3];
        if (c1 == '/')
            return 1;
        if (c1 == '.' && (c2 == '/' || c2 == 0 || (c2 == '.' && (c3 == '/' || c3 == 0))))
            return 1;
    }
    return 0;
}

static __always_inline void fd_hint_add(u64 fd, int delta)
{
    u32 slot = (u32)fd & (FD_HINT_SLOTS - 1);
    bump(fd_hint.lookup(&slot), delta);
}

/* the hint first: a pair must never be in fd_watch while its slot reads 0 */
static __always_inline void fd_watch_add(u32 tgid, u64 fd)
{
    struct fdkey_t k = {.tgid = tgid, .fd = (u32)fd};
    u8 one = 1;
    fd_hint_add(fd, 1);
    fd_watch.update(&k, &one);
}

static __always_inline void fd_learn_open(u32 tgid, long ret, const void *path)
{
    int z = 0;
    struct pathkey_t *pk = pathbuf.lookup(&z);
    if (!pk || ret < 0 || !path)
        return;
    __builtin_memset(pk, 0, sizeof(*pk));
    long n = bpf_probe_read_user_str(pk->s, sizeof(pk->s), path);
    if (n <= 0)
        return;
    /* a path cut at PATHKEY_LEN could still resolve to a watched name: keep it too */
    if (n >= PATHKEY_LEN || fd_names.lookup(pk) || path_needs_userspace(pk))
        fd_watch_add(tgid, ret);
}

static __always_inline void fd_forget(u32 tgid, u64 fd)
{
    struct fdkey_t k = {.tgid = tgid, .fd = (u32)fd};
    if (fd_watch.delete(&k) == 0)
        fd_hint_add(fd, -1);
}

static __always_inline void fd_copy(u32 tgid, u64 oldfd, long newfd)
{
    if (newfd < 0 || (u64)newfd == oldfd)
        return;
    fd_forget(tgid, newfd);
    if (fd_wanted(tgid, oldfd))
        fd_watch_add(tgid, newfd);
}
#endif

static __always_inline void count_drop(int cause)
{
    u64 *d = drop_count.lookup(&cause);
    if (d)
        (*d)++;
}

/* a free scratch buffer of this CPU, marked busy until submit(); NULL (a counted drop) if none */
static __always_inline u8 *get_buf(void)
{
    for (int i = 0; i < SCRATCH_SLOTS; i++) {
        int key = i;
        struct scratch_t *s = scratch.lookup(&key);
        if (s && !s->busy) {
            s->busy = 1;
            return s->buf;
        }
    }
    count_drop(DROP_SCRATCH);
    return 0;
}

#ifdef AGGREGATE_IO
/* In-kernel I/O totals: instead of a record per read/write, the exit programs add the result to
 * cumulative counters per (tgid, fd, exec generation). Userspace reads the map on each interval
 * and turns the cumulative values into deltas (it never resets an entry: that would race with
 * these adds). An fd closed by close or replaced by dup2/dup3 has its entry moved into that
 * call's enter record and deleted, so a reused fd number starts a new entry (`born` tells the
 * generations of one key apart). execve closes fds silently (close-on-exec): each execve enter
 * starts a new generation of the process's keys, so I/O after it never mixes with I/O before. */
struct iokey_t { u32 tgid; u32 fd; u32 gen; u32 pad; };
struct iototal_t { u64 bytes_in; u64 bytes_out; u64 ops_in; u64 ops_out; u64 born; };
BPF_HASH(io_totals, struct iokey_t, struct iototal_t, IO_TOTALS_MAX);
BPF_TABLE("lru_hash", u32, u32, exec_gen, 65536);  /* tgid -> execve enters seen */

static __always_inline void io_key(struct iokey_t *k, u32 tgid, u64 fd)
{
    u32 *gen = exec_gen.lookup(&tgid);
    k->tgid = tgid;
    k->fd = (u32)fd;
    k->gen = gen ? *gen : 0;
    k->pad = 0;
}

static __always_inline void exec_bump(u32 tgid)
{
    u32 *gen = exec_gen.lookup(&tgid);
    u32 next = gen ? *gen + 1 : 1;
    exec_gen.update(&tgid, &next);
}

/* A full map loses this call's counts: counted as a drop, never silent. */
static __always_inline void io_add(u32 tgid, u64 fd, long ret, int is_write)
{
    struct iokey_t k;
    io_key(&k, tgid, fd);
    struct iototal_t *t = io_totals.lookup(&k);
    if (!t) {
        struct iototal_t fresh = {};
        fresh.born = bpf_ktime_get_ns();
        io_totals.insert(&k, &fresh); /* fails when another CPU inserted first: the lookup finds it */
        t = io_totals.lookup(&k);
        if (!t) {
            count_drop(DROP_TOTALS);
            return;
        }
    }
    u64 bytes = ret > 0 ? (u64)ret : 0;
    if (is_write) {
        __sync_fetch_and_add(&t->bytes_out, bytes);
        __sync_fetch_and_add(&t->ops_out, 1);
    } else {
        __sync_fetch_and_add(&t->bytes_in, bytes);
        __sync_fetch_and_add(&t->ops_in, 1);
    }
}
#endif

static __always_inline u32 begin(u8 *b, u16 type, u16 nparams)
{
    struct rec_hdr *h = (struct rec_hdr *)b;
    h->ts = bpf_ktime_get_ns();
    h->tid = (u32)bpf_get_current_pid_tgid();
    h->type = type;
    h->nparams = nparams;
    h->cpu = bpf_get_smp_processor_id();
    h->reserved = 0;
    return HDR_SIZE + 2 * nparams;
}

#define SET_LEN(b, i, n) (*(u16 *)((b) + HDR_SIZE + 2 * (i)) = (u16)(n))

static __always_inline void submit(u8 *b, u32 size)
{
    /* records are smaller than REC_CAP by construction; the mask only informs the verifier */
    if (events.ringbuf_output(b, size & REC_MASK, BPF_RB_NO_WAKEUP))
        count_drop(DROP_RING);
    *(u32 *)(b - 8) = 0; /* the slot's busy flag (struct scratch_t) */
}

static __always_inline u32 put_int(u8 *b, u32 off, u64 v, int size)
{
    u8 *p = b + (off & REC_MASK);
    if (size == 1)
        *p = (u8)v;
    else if (size == 2)
        __builtin_memcpy(p, &v, 2);
    else if (size == 4)
        __builtin_memcpy(p, &v, 4);
    else
        __builtin_memcpy(p, &v, 8);
    return size;
}

#ifdef AGGREGATE_IO
/* The last FD_TOTALS_PARAMS parameters of close's and dup's enter records, from index `first`:
 * the fd the call closes and its final totals (bytes in, bytes out, ops in, ops out, born; all 0
 * when it had none or `take` is 0), moved out of the map so a reused fd number starts afresh. */
static __always_inline u32 put_io_totals(u8 *b, u32 off, int first, u32 tgid, u64 fd, int take)
{
    struct iokey_t k;
    struct iototal_t t = {};
    io_key(&k, tgid, fd);
    struct iototal_t *found = take ? io_totals.lookup(&k) : 0;
    if (found) {
        t = *found;
        io_totals.delete(&k);
    }
    u32 start = off;
    SET_LEN(b, first, 8); off += put_int(b, off, (u64)(s64)(s32)fd, 8);
    SET_LEN(b, first + 1, 8); off += put_int(b, off, t.bytes_in, 8);
    SET_LEN(b, first + 2, 8); off += put_int(b, off, t.bytes_out, 8);
    SET_LEN(b, first + 3, 8); off += put_int(b, off, t.ops_in, 8);
    SET_LEN(b, first + 4, 8); off += put_int(b, off, t.ops_out, 8);
    SET_LEN(b, first + 5, 8); off += put_int(b, off, t.born, 8);
    return off - start;
}
#endif

static __always_inline u32 put_str(u8 *b, u32 off, u64 ptr)
{
    if (!ptr)
        return 0;
    long n = bpf_probe_read_user_str(b + (off & REC_MASK), STR_MAX, (const void *)ptr);
    return n > 0 ? (u32)n : 0;
}

/* n bytes of user memory at ptr, cut to the session's snaplen */
static __always_inline u32 put_user(u8 *b, u32 off, u64 ptr, s64 n)
{
    u64 snap = cfg(0);
    if (!ptr || n <= 0)
        return 0;
    if ((u64)n > snap)
        n = snap;
    if (n > SNAP_MAX)
        n = SNAP_MAX;
    if (bpf_probe_read_user(b + (off & REC_MASK), n, (const void *)ptr))
        return 0;
    return n;
}

static __always_inline u32 put_iov(u8 *b, u32 off, u64 vec, u64 cnt, s64 total)
{
    u64 snap = cfg(0);
    u32 done = 0;
    if (total <= 0 || !vec)
        return 0;
    if ((u64)total > snap)
        total = snap;
    for (int i = 0; i < IOV_MAX; i++) {
        struct iov_t v = {};
        if (i >= cnt || done >= total)
            break;
        if (bpf_probe_read_user(&v, sizeof(v), (const void *)(vec + i * sizeof(v))))
            break;
        u64 n = v.len;
        if (n > total - done)
            n = total - done;
        if (n > SNAP_MAX)
            n = SNAP_MAX;
            if (bpf_probe_read_user(b + ((off + done) & REC_MASK), n, (const void *)v.base))
            break;
        done += n;
    }
    return done;
}

static __always_inline u64 iov_total(u64 vec, u64 cnt)
{
    u64 sum = 0;
    for (int i = 0; i < IOV_MAX; i++) {
        struct iov_t v = {};
        if (i >= cnt || !vec)
            break;
        if (bpf_probe_read_user(&v, sizeof(v), (const void *)(vec + i * sizeof(v))))
            break;
        sum += v.len;
    }
    return sum;
}

static __always_inline int read_msghdr(u64 ptr, struct msghdr_t *m)
{
    return ptr ? bpf_probe_read_user(m, sizeof(*m), (const void *)ptr) : -1;
}

/* raw user sockaddr bytes (decode.py turns them into PT_SOCKADDR) */
static __always_inline u32 put_sockaddr(u8 *b, u32 off, u64 ptr, u64 len)
{
    if (!ptr || len == 0)
        return 0;
    if (len > 112)
        len = 112;
    len &= 127;
    if (bpf_probe_read_user(b + (off & REC_MASK), len, (const void *)ptr))
        return 0;
    return len;
}

/* fill the remote end of t from a user sockaddr; returns 0 when there is none */
static __always_inline int remote_from_user(struct rawtuple_t *t, u64 ptr)
{
    u16 fam = 0;
    u16 port = 0;
    if (!ptr || bpf_probe_read_user(&fam, 2, (const void *)ptr))
        return 0;
    t->family = fam;
    if (fam == CHISEL_AF_INET) {
        bpf_probe_read_user(&port, 2, (const void *)(ptr + 2));
        bpf_probe_read_user(t->daddr, 4, (const void *)(ptr + 4));
    } else if (fam == CHISEL_AF_INET6) {
        bpf_probe_read_user(&port, 2, (const void *)(ptr + 2));
        bpf_probe_read_user(t->daddr, 16, (const void *)(ptr + 8));
    } else if (fam != CHISEL_AF_UNIX) {
        return 0;
    }
    t->dport = bpf_ntohs(port);
    return 1;
}

static __always_inline u32 put_tuple(u8 *b, u32 off, struct rawtuple_t *t)
{
    __builtin_memcpy(b + (off & REC_MASK), t, sizeof(*t));
    return sizeof(*t);
}

static __always_inline u32 put_tuple_remote(u8 *b, u32 off, u64 ptr)
{
    struct rawtuple_t t = {};
    if (!remote_from_user(&t, ptr))
        return 0;
    return put_tuple(b, off, &t);
}

static __always_inline u32 put_tuple_connect(u8 *b, u32 off, u32 tid, u64 ptr)
{
    struct rawtuple_t *known = tuple_by_tid.lookup(&tid);
    if (known) {
        struct rawtuple_t t = *known;
        tuple_by_tid.delete(&tid);
        return put_tuple(b, off, &t);
    }
    return put_tuple_remote(b, off, ptr);
}

static __always_inline u32 put_tuple_accept(u8 *b, u32 off, u64 ptr)
{
    struct rawtuple_t t = {};
    struct peerkey_t k = {};
    if (!remote_from_user(&t, ptr))
        return 0;
    k.family = t.family;
    k.port = t.dport;
    __builtin_memcpy(k.addr, t.daddr, 16);
    struct rawtuple_t *known = accepted.lookup(&k);
    if (known) {
        t = *known;
        accepted.delete(&k);
    }
    return put_tuple(b, off, &t);
}

/* raw pollfd array (fd i32, events i16, revents i16), at most FDLIST_MAX entries */
static __always_inline u32 put_pollfds(u8 *b, u32 off, u64 ptr, u64 nfds)
{
    if (!ptr)
        return 0;
    if (nfds > FDLIST_MAX)
        nfds = FDLIST_MAX;
    u32 n = (nfds * 8) & 255;
    if (bpf_probe_read_user(b + (off & REC_MASK), n, (const void *)ptr))
        return 0;
    return n;
}

static __always_inline u32 put_timespec_ns(u8 *b, u32 off, u64 ptr)
{
    s64 ts[2] = {};
    if (ptr)
        bpf_probe_read_user(ts, sizeof(ts), (const void *)ptr);
    return put_int(b, off, ts[0] * 1000000000ULL + ts[1], 8);
}

static __always_inline u32 put_user_u32(u8 *b, u32 off, u64 ptr, int size)
{
    u32 v = 0;
    if (ptr)
        bpf_probe_read_user(&v, 4, (const void *)ptr);
    return put_int(b, off, (u64)(s64)(s32)v, size);
}

static __always_inline u32 put_user_u64(u8 *b, u32 off, u64 ptr, int size)
{
    u64 v = 0;
    if (ptr)
        bpf_probe_read_user(&v, 8, (const void *)ptr);
    return put_int(b, off, v, size);
}

/* argv as NUL-terminated strings back to back, at most ARGV_MAX of them and ARGV_CAP bytes */
static __always_inline u32 put_argv(u8 *b, u32 off, u64 argv)
{
    u32 done = 0;
    for (int i = 0; i < ARGV_MAX; i++) {
        u64 p = 0;
        if (!argv || bpf_probe_read_user(&p, 8, (const void *)(argv + 8 * i)) || !p)
            break;
        if (done > ARGV_CAP - ARGV_ARG_MAX)
            break;
        long n = bpf_probe_read_user_str(b + ((off + done) & REC_MASK), ARGV_ARG_MAX, (const void *)p);
        if (n <= 0)
            break;
        done += n;
    }
    return done;
}

static __always_inline u32 put_comm(u8 *b, u32 off)
{
    bpf_get_current_comm(b + (off & REC_MASK), 16);
    return 16;
}

static __always_inline u32 put_ptid(u8 *b, u32 off, u32 tid)
{
    u32 *p = parent_of.lookup(&tid);
    return put_int(b, off, p ? *p : 0, 8);
}

TRACEPOINT_PROBE(sched, sched_process_fork)
{
    u32 parent = args->parent_pid, child = args->child_pid;
    u32 tgid = bpf_get_current_pid_tgid() >> 32;
    parent_of.update(&child, &parent);
#ifdef AXIS_TRACED
    if (traced.lookup(&tgid)) {
        u8 one = 1;
        traced.update(&child, &one);
    }
#endif
#ifdef AXIS_FDS
    if (child != tgid)
        fd_parent.update(&child, &tgid);
#endif
    return 0;
}
