/* Makes known numbers of every seed syscall the live engine traces (tests/live/test_engine_strace.py).
 * Counts are cross-checked against `strace -f -c`, so the exact numbers matter less than that each
 * syscall is made at least once, directly through syscall(2) where libc might pick another one. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void reap(pid_t pid) { if (pid > 0) waitpid(pid, NULL, __WALL); }

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    char a[512], b[512], buf[64] = "0123456789abcdef";
    struct iovec iov[2] = {{buf, 8}, {buf + 8, 8}};
    int i;

    if (chdir(dir)) return 2;
    int dfd = open(".", O_RDONLY | O_DIRECTORY);
    syscall(SYS_fchdir, dfd);
    snprintf(a, sizeof a, "%s/seed_a", dir);
    snprintf(b, sizeof b, "%s/seed_b", dir);

    int fd = syscall(SYS_creat, a, 0600);
    for (i = 0; i < 3; i++) syscall(SYS_write, fd, buf, 16);
    syscall(SYS_pwrite64, fd, buf, 4, 0);
    syscall(SYS_writev, fd, iov, 2);
    syscall(SYS_pwritev, fd, iov, 2, 0, 0);
    syscall(SYS_close, fd);
    fd = syscall(SYS_open, a, O_RDONLY);
    for (i = 0; i < 5; i++) syscall(SYS_read, fd, buf, 4);
    syscall(SYS_pread64, fd, buf, 4, 2);
    syscall(SYS_readv, fd, iov, 2);
    syscall(SYS_preadv, fd, iov, 2, 0, 0);
    int fd2 = syscall(SYS_openat, AT_FDCWD, "seed_a", O_RDONLY);
    struct open_how how = {.flags = O_RDONLY};
    int fd3 = syscall(SYS_openat2, AT_FDCWD, "seed_a", &how, sizeof how);
    int d1 = syscall(SYS_dup, fd);
    syscall(SYS_dup2, fd, 40);
    syscall(SYS_dup3, fd, 41, O_CLOEXEC);
    syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, 50);
    syscall(SYS_fcntl, fd, F_GETFL);
    int p[2];
    syscall(SYS_pipe, p);
    syscall(SYS_close, p[0]); syscall(SYS_close, p[1]);
    syscall(SYS_pipe2, p, O_CLOEXEC);
    syscall(SYS_close, p[0]); syscall(SYS_close, p[1]);
    syscall(SYS_close, d1); syscall(SYS_close, 40); syscall(SYS_close, 41);
    syscall(SYS_close, fd2); syscall(SYS_close, fd3); syscall(SYS_close, fd);

    syscall(SYS_rename, a, b);
    syscall(SYS_renameat, AT_FDCWD, "seed_b", AT_FDCWD, "seed_a");
    syscall(SYS_renameat2, AT_FDCWD, "seed_a", AT_FDCWD, "seed_b", 0);
    syscall(SYS_unlink, b);
    syscall(SYS_unlinkat, AT_FDCWD, "seed_missing", 0);

    void *m = (void *)syscall(SYS_mmap, NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    syscall(SYS_munmap, m, 4096);
    syscall(SYS_brk, 0);

    struct timeval tv = {0, 0};
    struct timespec ts = {0, 0};
    syscall(SYS_select, 0, NULL, NULL, NULL, &tv);
    syscall(SYS_pselect6, 0, NULL, NULL, NULL, &ts, NULL);
    struct pollfd pfd = {.fd = 0, .events = POLLIN};
    syscall(SYS_poll, &pfd, 1, 0);
    syscall(SYS_ppoll, &pfd, 1, &ts, NULL, 8);
    int ep = epoll_create1(0);
    struct epoll_event ev;
    syscall(SYS_epoll_wait, ep, &ev, 1, 0);
    close(ep);

    syscall(SYS_kill, getpid(), 0);
    syscall(SYS_tkill, gettid(), 0);
    syscall(SYS_tgkill, getpid(), gettid(), 0);

    int ls = syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sin;
    syscall(SYS_bind, ls, &sin, sizeof sin);
    syscall(SYS_listen, ls, 4);
    getsockname(ls, (struct sockaddr *)&sin, &sl);
    int cs = syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
    syscall(SYS_connect, cs, &sin, sizeof sin);
    struct sockaddr_in peer;
    socklen_t pl = sizeof peer;
    int as = syscall(SYS_accept, ls, &peer, &pl);
    int cs2 = syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
    syscall(SYS_connect, cs2, &sin, sizeof sin);
    pl = sizeof peer;
    int as2 = syscall(SYS_accept4, ls, &peer, &pl, SOCK_CLOEXEC);
    syscall(SYS_sendto, cs, "ping", 4, 0, NULL, 0);
    syscall(SYS_recvfrom, as, buf, 4, 0, NULL, NULL);
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 1};
    syscall(SYS_sendmsg, cs, &msg, 0);
    syscall(SYS_recvmsg, as, &msg, 0);
    struct mmsghdr mm = {.msg_hdr = msg};
    syscall(SYS_sendmmsg, cs, &mm, 1, 0);
    syscall(SYS_recvmmsg, as, &mm, 1, 0, NULL);
    close(as2); close(cs2); close(as); close(cs); close(ls);

    reap(syscall(SYS_fork) ?: (syscall(SYS_exit_group, 0), 0));
    pid_t v = vfork();
    if (v == 0) _exit(0);
    reap(v);
    pid_t c = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    if (c == 0) syscall(SYS_exit_group, 0);
    reap(c);
    struct clone_args ca = {.exit_signal = SIGCHLD};
    pid_t c3 = syscall(SYS_clone3, &ca, sizeof ca);
    if (c3 == 0) syscall(SYS_exit_group, 0);
    reap(c3);
    char *nargv[] = {"x", NULL};
    syscall(SYS_execveat, -1, "/nonexistent", nargv, NULL, 0);
    syscall(SYS_chdir, "/");
    return 0;
}
