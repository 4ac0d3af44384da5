/*
 * workload: a loop of cheap system calls with a known count, for tracer overhead benchmarks.
 *
 *   workload MODE ITERATIONS [RATE]
 *
 * MODE is one of
 *   rw        read 1 byte from /dev/null, write 1 byte to /dev/null      (2 syscalls/iteration)
 *   openclose open /dev/null, close it                                    (2)
 *   getpid    getpid, getppid, sched_yield                                (3)
 *   connect   socket, connect to a 127.0.0.1 listener, accept, close both (5)
 *   forkexec  fork, exec /bin/true in the child, wait for it              (3 in this process;
 *                                                                          the child's are not counted)
 * RATE, if given and > 0, paces the loop to that many iterations per second (checked every
 * batch of iterations, sleeping to an absolute deadline so the average rate is exact).
 *
 * On exit it prints one line: MODE ITERATIONS SYSCALLS ELAPSED_NS CPU_NS, where SYSCALLS is the
 * number of system calls the loop itself made (setup and pacing excluded), ELAPSED_NS the loop's
 * wall time on CLOCK_MONOTONIC and CPU_NS the CPU time this process spent in it (user + system,
 * which includes BPF programs run at its syscalls; a forked child's time is not included). The
 * benchmark harness reads them, so the tracer's start-up and the process's own exec are not part
 * of the ratio. CPU time barely moves when other work competes for the CPUs; wall time does.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Iterations between two pacing checks: small enough to keep the rate smooth, large enough that
   clock_gettime does not dominate a cheap loop. */
#define PACE_BATCH 64

static void die(const char *what)
{
	fprintf(stderr, "workload: %s: %s\n", what, strerror(errno));
	exit(1);
}

static long long clock_ns(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long long now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

/* Each step runs one iteration and returns how many system calls it made. */

static int null_fd = -1;

static int step_rw(void)
{
	char byte = 'x';
	if (read(null_fd, &byte, 1) < 0)
		die("read /dev/null");
	if (write(null_fd, &byte, 1) != 1)
		die("write /dev/null");
	return 2;
}

static int step_openclose(void)
{
	int fd = open("/dev/null", O_RDONLY);
	if (fd < 0)
		die("open /dev/null");
	close(fd);
	return 2;
}

static int step_getpid(void)
{
	/* Direct syscalls: glibc may cache getpid. */
	syscall(SYS_getpid);
	syscall(SYS_getppid);
	sched_yield();
	return 3;
}

static int listener = -1;
static struct sockaddr_in listen_addr;

static void setup_listener(void)
{
	socklen_t len = sizeof(listen_addr);
	listener = socket(AF_INET, SOCK_STREAM, 0);
	if (listener < 0)
		die("socket");
	memset(&listen_addr, 0, sizeof(listen_addr));
	listen_addr.sin_family = AF_INET;
	listen_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(listener, (struct sockaddr *)&listen_addr, sizeof(listen_addr)) < 0)
		die("bind");
	if (listen(listener, 16) < 0)
		die("listen");
	if (getsockname(listener, (struct sockaddr *)&listen_addr, &len) < 0)
		die("getsockname");
}

static int step_connect(void)
{
	int client = socket(AF_INET, SOCK_STREAM, 0);
	int server;
	if (client < 0)
		die("socket");
	/* Loopback connect completes against the backlog, so one process can play both ends. */
	if (connect(client, (struct sockaddr *)&listen_addr, sizeof(listen_addr)) < 0)
		die("connect");
	server = accept(listener, NULL, NULL);
	if (server < 0)
		die("accept");
	close(client);
	close(server);
	return 5;
}

static int step_forkexec(void)
{
	int status;
	pid_t child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		execl("/bin/true", "true", (char *)NULL);
		_exit(127);
	}
	if (waitpid(child, &status, 0) < 0)
		die("waitpid");
	return 3;  /* fork (clone), execve in the child, wait4 */
}

struct mode {
	const char *name;
	int (*step)(void);
	void (*setup)(void);
};

static void setup_null(void)
{
	null_fd = open("/dev/null", O_RDWR);
	if (null_fd < 0)
		die("open /dev/null");
}

static const struct mode modes[] = {
	{"rw", step_rw, setup_null},
	{"openclose", step_openclose, NULL},
	{"getpid", step_getpid, NULL},
	{"connect", step_connect, setup_listener},
	{"forkexec", step_forkexec, NULL},
};

static void usage(void)
{
	fprintf(stderr, "usage: workload rw|openclose|getpid|connect|forkexec ITERATIONS [RATE]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const struct mode *mode = NULL;
	long long iterations, rate = 0, syscalls = 0, start, cpu_start, elapsed, cpu, i;
	size_t m;
	char *end;

	if (argc < 3 || argc > 4)
		usage();
	for (m = 0; m < sizeof(modes) / sizeof(modes[0]); m++)
		if (strcmp(argv[1], modes[m].name) == 0)
			mode = &modes[m];
	if (mode == NULL)
		usage();
	iterations = strtoll(argv[2], &end, 10);
	if (*end || iterations < 0)
		usage();
	if (argc == 4) {
		rate = strtoll(argv[3], &end, 10);
		if (*end || rate < 0)
			usage();
	}
	if (mode->setup)
		mode->setup();

	cpu_start = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	start = now_ns();
	for (i = 0; i < iterations; i++) {
		syscalls += mode->step();
		if (rate > 0 && (i + 1) % PACE_BATCH == 0) {
			long long due = start + (i + 1) * 1000000000LL / rate;
			if (now_ns() < due) {
				struct timespec ts = {due / 1000000000LL, due % 1000000000LL};
				clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
			}
		}
	}
	elapsed = now_ns() - start;
	cpu = clock_ns(CLOCK_PROCESS_CPUTIME_ID) - cpu_start;
	printf("%s %lld %lld %lld %lld\n", mode->name, iterations, syscalls, elapsed, cpu);
	return 0;
}
