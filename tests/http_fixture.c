// pc_http_fixture: a tiny, bounded HTTP/1.1 file server on 127.0.0.1 for the
// offline tests of scripts/get_models.sh (tests/cli_get_models.sh). Not part of
// the library or the CLI.
//
//   pc_http_fixture --root DIR --port-file F [--log F] [--max-seconds N]
//                   [--cut PATH:BYTES] [--delay-ms N]
//
// Serves GET and HEAD of files under DIR (the URL path minus its query string;
// ".." and non-regular files answer 404), with single-range requests
// ("Range: bytes=N-" / "bytes=N-M" -> 206, past the end -> 416). It binds an
// ephemeral port, writes the number to --port-file (written to F.tmp, then
// renamed, so a reader never sees half a number), handles one connection at
// a time, and exits after --max-seconds (default 60) whatever happens, so a
// test that dies cannot leave it behind. --cut makes the first GET of PATH
// send only BYTES bytes of the body and then drop the connection (an
// interrupted download). --log appends "METHOD PATH RANGE STATUS" per request.
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define REQ_MAX 8192

typedef struct {
    const char *root, *log;
    char cut_path[1024];
    long long cut_bytes;  // < 0: no cut
    int cut_done;
    int delay_ms;
} server;

static double now_sec(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int send_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w, n -= (size_t)w;
    }
    return 0;
}

static void reply_status(int fd, int code, const char *reason) {
    char h[256];
    int n = snprintf(h, sizeof h, "HTTP/1.1 %d %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", code, reason);
    send_all(fd, h, (size_t)n);
}

static void log_line(const server *s, const char *method, const char *path, const char *range, int code) {
    if (!s->log) return;
    FILE *f = fopen(s->log, "a");
    if (!f) return;
    fprintf(f, "%s %s %s %d\n", method, path, range[0] ? range : "-", code);
    fclose(f);
}

// Reads the request head (up to the blank line) with a 5 s limit; 0 on success.
static int read_head(int fd, char *buf, size_t cap) {
    size_t n = 0;
    double t0 = now_sec();
    while (n + 1 < cap) {
        struct pollfd p = {fd, POLLIN, 0};
        int left = 5000 - (int)((now_sec() - t0) * 1e3);
        if (left <= 0 || poll(&p, 1, left) <= 0) return -1;
        ssize_t r = recv(fd, buf + n, cap - 1 - n, 0);
        if (r <= 0) return -1;
        n += (size_t)r;
        buf[n] = 0;
        if (strstr(buf, "\r\n\r\n")) return 0;
    }
    return -1;  // head too long
}

static void handle(server *s, int fd) {
    char req[REQ_MAX], method[16] = "", target[2048] = "", range[128] = "";
    if (read_head(fd, req, sizeof req) != 0) return;
    if (sscanf(req, "%15s %2047s", method, target) != 2) {
        reply_status(fd, 400, "Bad Request");
        return;
    }
    char *q = strchr(target, '?');
    if (q) *q = 0;
    for (char *line = strstr(req, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
        if (!strncasecmp(line + 2, "Range:", 6)) {
            const char *v = line + 8;
            while (*v == ' ') v++;
            size_t k = strcspn(v, "\r\n");
            if (k >= sizeof range) k = sizeof range - 1;
            memcpy(range, v, k);
            range[k] = 0;
        }
    }
    int head = !strcmp(method, "HEAD");
    if (!head && strcmp(method, "GET")) {
        log_line(s, method, target, range, 405);
        reply_status(fd, 405, "Method Not Allowed");
        return;
    }
    char path[4096];
    struct stat sb;
    if (target[0] != '/' || strstr(target, "..") ||
        snprintf(path, sizeof path, "%s%s", s->root, target) >= (int)sizeof path || stat(path, &sb) != 0 ||
        !S_ISREG(sb.st_mode)) {
        log_line(s, method, target, range, 404);
        reply_status(fd, 404, "Not Found");
        return;
    }
    long long size = (long long)sb.st_size, lo = 0, hi = size - 1;
    int code = 200;
    if (range[0]) {
        long long a = -1, b = -1;
        if (sscanf(range, "bytes=%lld-%lld", &a, &b) < 1 || a < 0) {
            log_line(s, method, target, range, 400);
            reply_status(fd, 400, "Bad Request");
            return;
        }
        if (a >= size) {
            log_line(s, method, target, range, 416);
            char h[256];
            int n = snprintf(h, sizeof h,
                             "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */%lld\r\n"
                             "Content-Length: 0\r\nConnection: close\r\n\r\n", size);
            send_all(fd, h, (size_t)n);
            return;
        }
        lo = a;
        if (b >= a && b < size) hi = b;
        code = 206;
    }
    int f = open(path, O_RDONLY);
    if (f < 0) {
        reply_status(fd, 500, "Internal Server Error");
        return;
    }
    long long len = hi - lo + 1;
    char h[512];
    int n = code == 206 ? snprintf(h, sizeof h,
                                   "HTTP/1.1 206 Partial Content\r\nContent-Length: %lld\r\n"
                                   "Content-Range: bytes %lld-%lld/%lld\r\nAccept-Ranges: bytes\r\n"
                                   "Connection: close\r\n\r\n", len, lo, hi, size)
                        : snprintf(h, sizeof h,
                                   "HTTP/1.1 200 OK\r\nContent-Length: %lld\r\nAccept-Ranges: bytes\r\n"
                                   "Connection: close\r\n\r\n", len);
    log_line(s, method, target, range, code);
    if (send_all(fd, h, (size_t)n) != 0 || head) {
        close(f);
        return;
    }
    long long limit = len;
    if (s->cut_bytes >= 0 && !s->cut_done && !strcmp(target, s->cut_path)) {
        s->cut_done = 1;
        if (s->cut_bytes < limit) limit = s->cut_bytes;
    }
    if (lseek(f, (off_t)lo, SEEK_SET) < 0) limit = 0;
    char buf[65536];
    while (limit > 0) {
        ssize_t r = read(f, buf, (size_t)(limit < (long long)sizeof buf ? limit : (long long)sizeof buf));
        if (r <= 0 || send_all(fd, buf, (size_t)r) != 0) break;
        limit -= r;
        if (s->delay_ms > 0) {
            struct timespec ts = {s->delay_ms / 1000, (long)(s->delay_ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    close(f);
}

static void usage(void) {
    fprintf(stderr, "usage: pc_http_fixture --root DIR --port-file F [--log F] [--max-seconds N] [--cut PATH:BYTES] "
                    "[--delay-ms N]\n");
}

int main(int argc, char **argv) {
    server s = {0};
    s.cut_bytes = -1;
    const char *port_file = NULL;
    double max_sec = 60;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            usage();
            return 2;
        }
        if (!strcmp(a, "--root")) s.root = v;
        else if (!strcmp(a, "--port-file")) port_file = v;
        else if (!strcmp(a, "--log")) s.log = v;
        else if (!strcmp(a, "--max-seconds")) max_sec = atof(v);
        else if (!strcmp(a, "--delay-ms")) s.delay_ms = atoi(v);
        else if (!strcmp(a, "--cut")) {
            const char *c = strrchr(v, ':');
            if (!c || (size_t)(c - v) >= sizeof s.cut_path) {
                usage();
                return 2;
            }
            memcpy(s.cut_path, v, (size_t)(c - v));
            s.cut_path[c - v] = 0;
            s.cut_bytes = atoll(c + 1);
        } else {
            usage();
            return 2;
        }
        i++;
    }
    if (!s.root || !port_file || max_sec <= 0 || max_sec > 3600) {
        usage();
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t al = sizeof addr;
    if (ls < 0 || bind(ls, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(ls, 16) != 0 ||
        getsockname(ls, (struct sockaddr *)&addr, &al) != 0) {
        perror("pc_http_fixture: listen on 127.0.0.1");
        return 1;
    }
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", port_file);
    FILE *pf = fopen(tmp, "w");
    if (!pf || fprintf(pf, "%d\n", ntohs(addr.sin_port)) < 0 || fclose(pf) != 0 || rename(tmp, port_file) != 0) {
        perror("pc_http_fixture: port file");
        return 1;
    }
    double t_end = now_sec() + max_sec;
    for (;;) {
        int left = (int)((t_end - now_sec()) * 1e3);
        if (left <= 0) break;
        struct pollfd p = {ls, POLLIN, 0};
        if (poll(&p, 1, left) <= 0) continue;
        int fd = accept(ls, NULL, NULL);
        if (fd < 0) continue;
        handle(&s, fd);
        close(fd);
    }
    close(ls);
    return 0;
}
