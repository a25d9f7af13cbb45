/*
 * orbital-supervise: owns orbitald's listening sockets and keeps orbitald running.
 *
 * It binds the Unix sockets itself (mode and group as configured), then starts the daemon with them as
 * fds 3, 4 ... (LISTEN_FDS / LISTEN_FDNAMES / LISTEN_PID, the systemd socket-activation protocol) and
 * restarts it whenever it exits, with an exponential backoff (100 ms doubling up to --backoff-max-ms, reset
 * once a child stayed up --stable-ms). The sockets stay open in this process across restarts, so a client
 * connecting while the daemon restarts waits in the listen backlog instead of seeing ECONNREFUSED/ENOENT.
 *
 * SIGTERM/SIGINT: SIGTERM to the child, wait for it (SIGKILL after --stop-timeout-ms), unlink the sockets,
 * exit 0. SIGHUP: forwarded to the child. A failing child never makes this process exit.
 * Exit codes: 0 after SIGTERM/SIGINT, 1 when it cannot start (socket in use, bind failure), 2 usage error.
 *
 * Plain C11 + POSIX/Linux libc (signalfd, poll); no other dependency. One event loop, single-threaded.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FIRST_FD 3
#define MAX_SOCKETS 2
#define BACKLOG 511
#define INITIAL_BACKOFF_MS 100

struct listener {
    const char *name; /* LISTEN_FDNAMES entry: "api" or "rest" */
    const char *path;
    int fd;
    dev_t dev; /* identity of the socket file we created: unlink only that one */
    ino_t ino;
};

static struct {
    struct listener sockets[MAX_SOCKETS];
    int nsockets;
    const char *group;
    mode_t mode;
    long backoff_max_ms;
    long stable_ms;
    long stop_timeout_ms;
    char **command;
} cfg = {
    .group = "orbital",
    .mode = 0660,
    .backoff_max_ms = 10000,
    .stable_ms = 10000,
    .stop_timeout_ms = 15000,
};

/* ---- logging: one line per event, one write() so that it does not interleave with the child's output ---- */

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...) {
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
    int m = snprintf(line + n, sizeof line - n, ".%03ldZ orbital-supervise[%ld]: ", ts.tv_nsec / 1000000L, (long)getpid());
    if (m > 0) n += (size_t)m;
    va_list ap;
    va_start(ap, fmt);
    m = vsnprintf(line + n, sizeof line - n, fmt, ap);
    va_end(ap);
    if (m > 0) n = n + (size_t)m < sizeof line - 1 ? n + (size_t)m : sizeof line - 2;
    line[n++] = '\n';
    const char *p = line;
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return; /* stderr gone: keep supervising regardless */
        p += w;
        n -= (size_t)w;
    }
}

static int64_t monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t now_ms(void) { return monotonic_ns() / 1000000; }

/* A deadline `ms` from now, rounded up to the next whole millisecond: now_ms() truncates, so a deadline made from
 * it would come up to 1 ms early and a logged restart_in_ms=100 could start the child after 99.x ms. */
static int64_t deadline_in_ms(long ms) { return (monotonic_ns() + 999999) / 1000000 + ms; }

static const char *signal_name(int sig) {
    switch (sig) {
    case SIGHUP: return "SIGHUP";
    case SIGINT: return "SIGINT";
    case SIGQUIT: return "SIGQUIT";
    case SIGILL: return "SIGILL";
    case SIGTRAP: return "SIGTRAP";
    case SIGABRT: return "SIGABRT";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGKILL: return "SIGKILL";
    case SIGUSR1: return "SIGUSR1";
    case SIGSEGV: return "SIGSEGV";
    case SIGUSR2: return "SIGUSR2";
    case SIGPIPE: return "SIGPIPE";
    case SIGALRM: return "SIGALRM";
    case SIGTERM: return "SIGTERM";
    case SIGSYS: return "SIGSYS";
    default: return "signal";
    }
}

/* ---- command line ---- */

static const char usage_text[] =
    "usage: orbital-supervise [--socket PATH] [--rest-socket PATH] [--group NAME] [--mode OCTAL]\n"
    "                         [--backoff-max-ms MS] [--stable-ms MS] [--stop-timeout-ms MS]\n"
    "                         -- COMMAND [ARGS...]\n"
    "  --socket PATH          gRPC socket, passed as fd 3 named \"api\" (default /run/orbital/api.sock)\n"
    "  --rest-socket PATH     REST socket, passed as fd 4 named \"rest\" (default: none)\n"
    "  --group NAME           group owning the sockets (default orbital; kept as is when it does not exist)\n"
    "  --mode OCTAL           mode of the socket files (default 0660)\n"
    "  --backoff-max-ms MS    cap of the restart delay, which starts at 100 ms and doubles (default 10000)\n"
    "  --stable-ms MS         uptime after which the delay resets to 100 ms (default 10000)\n"
    "  --stop-timeout-ms MS   SIGTERM/SIGINT: SIGKILL the child if it has not exited by then (default 15000)\n";

static _Noreturn void usage_error(const char *fmt, const char *arg) {
    fprintf(stderr, "orbital-supervise: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n%s", usage_text);
    exit(2);
}

static long parse_ms(const char *opt, const char *s) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 0 || v > 24L * 3600 * 1000) usage_error("%s needs a number of milliseconds", opt);
    return v;
}

static void parse_args(int argc, char **argv) {
    static const struct option options[] = {
        {"socket", required_argument, NULL, 's'},
        {"rest-socket", required_argument, NULL, 'r'},
        {"group", required_argument, NULL, 'g'},
        {"mode", required_argument, NULL, 'm'},
        {"backoff-max-ms", required_argument, NULL, 'b'},
        {"stable-ms", required_argument, NULL, 't'},
        {"stop-timeout-ms", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *api = "/run/orbital/api.sock", *rest = NULL;
    int c;
    opterr = 0;
    /* "+": stop at the first non-option, so that the command's own options are never ours. */
    while ((c = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
        switch (c) {
        case 's': api = optarg; break;
        case 'r': rest = optarg; break;
        case 'g': cfg.group = optarg; break;
        case 'm': {
            char *end;
            errno = 0;
            long m = strtol(optarg, &end, 8);
            if (errno || end == optarg || *end || m < 0 || m > 0777) usage_error("--mode needs an octal mode such as 0660, not \"%s\"", optarg);
            cfg.mode = (mode_t)m;
            break;
        }
        case 'b': cfg.backoff_max_ms = parse_ms("--backoff-max-ms", optarg); break;
        case 't': cfg.stable_ms = parse_ms("--stable-ms", optarg); break;
        case 'k': cfg.stop_timeout_ms = parse_ms("--stop-timeout-ms", optarg); break;
        case 'h': fputs(usage_text, stdout); exit(0);
        default: usage_error("unknown or incomplete option %s", argv[optind - 1]);
        }
    }
    if (optind >= argc) usage_error("%s", "no command to supervise (put it after --)");
    cfg.command = argv + optind;
    cfg.sockets[cfg.nsockets++] = (struct listener){.name = "api", .path = api, .fd = -1};
    if (rest) {
        if (strcmp(rest, api) == 0) usage_error("--rest-socket must differ from --socket (%s)", rest);
        cfg.sockets[cfg.nsockets++] = (struct listener){.name = "rest", .path = rest, .fd = -1};
    }
}

/* ---- sockets ---- */

static int fill_addr(struct sockaddr_un *addr, const char *path) {
    memset(addr, 0, sizeof *addr);
    addr->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof addr->sun_path) {
        logf_("socket path too long (max %zu bytes): %s", sizeof addr->sun_path - 1, path);
        return -1;
    }
    strcpy(addr->sun_path, path);
    return 0;
}

/* mkdir -p of the socket's parent directory (0755). */
static int make_parent_dir(const char *path) {
    char dir[PATH_MAX];
    if (strlen(path) >= sizeof dir) return -1;
    strcpy(dir, path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) return 0;
    *slash = '\0';
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(dir, 0755) < 0 && errno != EEXIST) goto fail;
        *p = '/';
    }
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) goto fail;
    return 0;
fail:
    logf_("cannot create directory %s: %s", dir, strerror(errno));
    return -1;
}

/* 1: something accepts connections on path; 0: nobody (ECONNREFUSED: a stale socket file); -1: error. */
static int someone_listens(const struct sockaddr_un *addr) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    int r = connect(fd, (const struct sockaddr *)addr, sizeof *addr);
    int err = errno;
    close(fd);
    if (r == 0) return 1;
    if (err == EAGAIN || err == EINPROGRESS) return 1; /* a live listener with a full backlog */
    if (err == ECONNREFUSED || err == ENOENT) return 0;
    errno = err;
    return -1;
}

/* Removes a socket file left by a dead owner; refuses (returns -1) a live socket or a non-socket file. */
static int remove_stale(const char *path, const struct sockaddr_un *addr) {
    struct stat st;
    if (lstat(path, &st) < 0) {
        if (errno == ENOENT) return 0;
        logf_("cannot stat %s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISSOCK(st.st_mode)) {
        logf_("%s exists and is not a socket; refusing to replace it", path);
        return -1;
    }
    int live = someone_listens(addr);
    if (live == 1) {
        logf_("%s is in use by a running process; refusing to take it over", path);
        return -1;
    }
    if (live < 0) {
        logf_("cannot probe %s: %s; refusing to replace it", path, strerror(errno));
        return -1;
    }
    if (unlink(path) < 0 && errno != ENOENT) {
        logf_("cannot remove stale socket %s: %s", path, strerror(errno));
        return -1;
    }
    logf_("removed stale socket %s (nobody was listening)", path);
    return 0;
}

static int open_listener(struct listener *l, gid_t gid, bool have_gid) {
    struct sockaddr_un addr;
    if (fill_addr(&addr, l->path) < 0 || make_parent_dir(l->path) < 0 || remove_stale(l->path, &addr) < 0) return -1;
    l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (l->fd < 0) {
        logf_("socket(): %s", strerror(errno));
        return -1;
    }
    /* Bind owner-only, then set the group, then open up to the requested mode: no window in which the
     * socket is reachable by a group or by others it is not meant for. */
    mode_t old_umask = umask(0177);
    int r = bind(l->fd, (struct sockaddr *)&addr, sizeof addr);
    int err = errno;
    umask(old_umask);
    if (r < 0) {
        logf_("cannot bind %s: %s", l->path, strerror(err));
        return -1;
    }
    if (have_gid && chown(l->path, (uid_t)-1, gid) < 0) {
        logf_("cannot chown %s to gid %ld: %s", l->path, (long)gid, strerror(errno));
        return -1;
    }
    if (chmod(l->path, cfg.mode) < 0) {
        logf_("cannot chmod %s: %s", l->path, strerror(errno));
        return -1;
    }
    if (listen(l->fd, BACKLOG) < 0) {
        logf_("cannot listen on %s: %s", l->path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (lstat(l->path, &st) == 0) {
        l->dev = st.st_dev;
        l->ino = st.st_ino;
    }
    logf_("listening on %s as \"%s\" (fd %d in the child, mode %04o, gid %ld)", l->path, l->name,
          FIRST_FD + (int)(l - cfg.sockets), (unsigned)cfg.mode, (long)(have_gid ? gid : getegid()));
    return 0;
}

/* Unlinks the socket files we created (only if the path still is our socket), then closes the fds. */
static void remove_listeners(void) {
    for (int i = 0; i < cfg.nsockets; i++) {
        struct listener *l = &cfg.sockets[i];
        if (l->fd < 0) continue;
        struct stat st;
        if (lstat(l->path, &st) == 0 && st.st_dev == l->dev && st.st_ino == l->ino) {
            if (unlink(l->path) == 0) logf_("removed %s", l->path);
        }
        close(l->fd);
        l->fd = -1;
    }
}

/* ---- child ---- */

static void close_fds_from(int first) {
#ifdef SYS_close_range
    if (syscall(SYS_close_range, (unsigned)first, ~0U, 0U) == 0) return;
#endif
    long max = sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > 65536) max = 65536;
    for (int fd = first; fd < max; fd++) close(fd);
}

/* In the forked child: never returns. */
static _Noreturn void exec_child(pid_t supervisor) {
    /* Start the daemon with default signal dispositions and nothing blocked: the supervisor's blocked
     * signals and ignored SIGPIPE (or whatever its own parent left ignored, e.g. SIGINT for a background
     * job) would be inherited across exec and break the daemon's own signal handling. */
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig != SIGKILL && sig != SIGSTOP) signal(sig, SIG_DFL);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* If the supervisor dies (SIGKILL, crash), stop the daemon too: otherwise the orphan would keep the
     * sockets busy and a respawned supervisor would refuse to start. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != supervisor) _exit(1);

    /* Copy the listening fds above the target range first, then dup2 them onto 3, 4 ...: dup2 clears
     * FD_CLOEXEC on the new fd (only in this process; the supervisor's fds keep it), and copying first
     * cannot clobber a source fd that happens to sit on a target number. */
    int n = cfg.nsockets, copies[MAX_SOCKETS];
    for (int i = 0; i < n; i++) {
        copies[i] = fcntl(cfg.sockets[i].fd, F_DUPFD_CLOEXEC, FIRST_FD + n);
        if (copies[i] < 0) goto fail;
    }
    for (int i = 0; i < n; i++) {
        if (dup2(copies[i], FIRST_FD + i) < 0) goto fail;
    }
    close_fds_from(FIRST_FD + n); /* the copies, the signalfd, anything inherited from whoever started us */

    char count[16], pid[24];
    snprintf(count, sizeof count, "%d", n);
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    const char *names = n == 2 ? "api:rest" : "api";
    if (setenv("LISTEN_FDS", count, 1) < 0 || setenv("LISTEN_FDNAMES", names, 1) < 0 || setenv("LISTEN_PID", pid, 1) < 0) goto fail;
    execvp(cfg.command[0], cfg.command);
fail:
    logf_("cannot start %s: %s", cfg.command[0], strerror(errno));
    _exit(127);
}

/* ---- supervision ---- */

static struct {
    pid_t pid;             /* running child, 0 when none */
    int64_t started_ms;    /* when it started */
    unsigned starts;       /* how many children were started */
    long next_delay_ms;    /* delay before the next restart */
    int64_t restart_at_ms; /* when to start the next child, -1: not scheduled */
    bool stopping;
    int64_t kill_at_ms; /* while stopping: when to SIGKILL, -1: not scheduled */
} st = {.next_delay_ms = INITIAL_BACKOFF_MS, .restart_at_ms = -1, .kill_at_ms = -1};

static void start_child(void) {
    pid_t supervisor = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        logf_("fork failed: %s; retrying in %ld ms", strerror(errno), st.next_delay_ms);
        st.restart_at_ms = deadline_in_ms(st.next_delay_ms);
        return;
    }
    if (pid == 0) exec_child(supervisor);
    st.pid = pid;
    st.started_ms = now_ms();
    st.restart_at_ms = -1;
    st.starts++;
    logf_("child started pid=%ld start=%u cmd=%s", (long)pid, st.starts, cfg.command[0]);
}

static void child_exited(pid_t pid, int status) {
    int64_t uptime = now_ms() - st.started_ms;
    char how[64];
    if (WIFSIGNALED(status))
        snprintf(how, sizeof how, "signal=%d (%s)", WTERMSIG(status), signal_name(WTERMSIG(status)));
    else
        snprintf(how, sizeof how, "status=%d", WEXITSTATUS(status));
    st.pid = 0;
    if (st.stopping) {
        logf_("child exited pid=%ld %s uptime_ms=%lld (stopping)", (long)pid, how, (long long)uptime);
        return;
    }
    /* Backoff: 100 ms, doubling per quick exit up to the cap; a child that stayed up --stable-ms resets it. */
    if (uptime >= cfg.stable_ms) st.next_delay_ms = INITIAL_BACKOFF_MS;
    long delay = st.next_delay_ms < cfg.backoff_max_ms ? st.next_delay_ms : cfg.backoff_max_ms;
    st.next_delay_ms = delay * 2 < cfg.backoff_max_ms ? delay * 2 : cfg.backoff_max_ms;
    logf_("child exited pid=%ld %s uptime_ms=%lld restart_in_ms=%ld", (long)pid, how, (long long)uptime, delay);
    st.restart_at_ms = deadline_in_ms(delay); /* after the line: the delay counts from its timestamp at the earliest */
}

static void reap(void) {
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid < 0 && errno == EINTR) continue;
        if (pid <= 0) return;
        if (pid == st.pid) child_exited(pid, status);
    }
}

static void begin_stop(int sig) {
    if (st.stopping) {
        logf_("%s received again; still waiting for the child", signal_name(sig));
        return;
    }
    st.stopping = true;
    st.restart_at_ms = -1;
    if (st.pid > 0) {
        logf_("%s received: sending SIGTERM to pid=%ld (SIGKILL in %ld ms)", signal_name(sig), (long)st.pid, cfg.stop_timeout_ms);
        kill(st.pid, SIGTERM);
        st.kill_at_ms = deadline_in_ms(cfg.stop_timeout_ms);
    } else {
        logf_("%s received: no child running", signal_name(sig));
    }
}

static int poll_timeout(void) {
    int64_t at = st.stopping ? st.kill_at_ms : st.restart_at_ms;
    if (at < 0) return -1;
    int64_t left = at - now_ms();
    if (left < 0) left = 0;
    return left > INT_MAX ? INT_MAX : (int)left;
}

int main(int argc, char **argv) {
    parse_args(argc, argv);

    /* Signals arrive as events on a signalfd: block them first, so none is lost before the loop runs. Their
     * dispositions must not be SIG_IGN as inherited from our parent: an ignored SIGCHLD would make the kernel
     * reap the children itself and hide their exit statuses. */
    static const int handled[] = {SIGCHLD, SIGTERM, SIGINT, SIGHUP};
    sigset_t mask;
    sigemptyset(&mask);
    for (size_t i = 0; i < sizeof handled / sizeof handled[0]; i++) sigaddset(&mask, handled[i]);
    if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0) {
        logf_("sigprocmask: %s", strerror(errno));
        return 1;
    }
    for (size_t i = 0; i < sizeof handled / sizeof handled[0]; i++) signal(handled[i], SIG_DFL);
    signal(SIGPIPE, SIG_IGN); /* a closed stderr must not kill the supervisor */
    int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) {
        logf_("signalfd: %s", strerror(errno));
        return 1;
    }

    gid_t gid = 0;
    bool have_gid = false;
    errno = 0;
    struct group *gr = getgrnam(cfg.group);
    if (gr) {
        gid = gr->gr_gid;
        have_gid = true;
    } else {
        logf_("group \"%s\" does not exist%s%s; the sockets keep group %ld", cfg.group, errno ? ": " : "", errno ? strerror(errno) : "",
              (long)getegid());
    }
    for (int i = 0; i < cfg.nsockets; i++) {
        if (open_listener(&cfg.sockets[i], gid, have_gid) < 0) {
            remove_listeners();
            return 1;
        }
    }

    start_child();
    for (;;) {
        struct pollfd pfd = {.fd = sfd, .events = POLLIN};
        int r = poll(&pfd, 1, poll_timeout());
        if (r < 0 && errno != EINTR) {
            logf_("poll: %s", strerror(errno));
            sleep(1);
            continue;
        }
        if (r > 0 && (pfd.revents & POLLIN)) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
                switch (si.ssi_signo) {
                case SIGCHLD: reap(); break;
                case SIGTERM:
                case SIGINT: begin_stop((int)si.ssi_signo); break;
                case SIGHUP:
                    if (st.pid > 0 && !st.stopping) {
                        logf_("SIGHUP received: forwarded to pid=%ld", (long)st.pid);
                        kill(st.pid, SIGHUP);
                    }
                    break;
                }
            }
            /* Two SIGCHLDs pending at once are merged into one: reap() collects every exited child. */
        }
        reap(); /* cheap, and robust against any merged or missed SIGCHLD */
        int64_t now = now_ms();
        if (st.stopping) {
            if (st.pid == 0) break;
            if (st.kill_at_ms >= 0 && now >= st.kill_at_ms) {
                logf_("pid=%ld still running %ld ms after SIGTERM: sending SIGKILL", (long)st.pid, cfg.stop_timeout_ms);
                kill(st.pid, SIGKILL);
                st.kill_at_ms = -1;
            }
        } else if (st.pid == 0 && st.restart_at_ms >= 0 && now >= st.restart_at_ms) {
            start_child();
        }
    }
    remove_listeners();
    logf_("stopped");
    return 0;
}
