/* Counts a proxy's socket system calls from inside the process, at full speed (strace slows the
 * proxy so much that its peers are always ahead of it, which hides the reads that find nothing).
 * Loaded with LD_PRELOAD by bench/profile.sh; the counts go to $SYSCALL_COUNT_OUT at exit:
 *   recv <recv+recvmsg> eagain <of them failed with EAGAIN> send <sendmsg+writev>
 *   getsockopt <calls>
 *   epoll_wait <calls> events <returned>
 * Only calls made through libc's exported symbols are seen (both sluice and NGINX use them). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>

static atomic_long n_recv, n_eagain, n_send, n_getsockopt, n_epoll_wait, n_events;

#define REAL(name) ((__typeof__(&name))dlsym(RTLD_NEXT, #name))

ssize_t recv(int fd, void* buf, size_t len, int flags) {
  static ssize_t (*real)(int, void*, size_t, int);
  if (!real) real = REAL(recv);
  const ssize_t r = real(fd, buf, len, flags);
  const int saved = errno;
  atomic_fetch_add_explicit(&n_recv, 1, memory_order_relaxed);
  if (r < 0 && saved == EAGAIN) atomic_fetch_add_explicit(&n_eagain, 1, memory_order_relaxed);
  errno = saved;
  return r;
}

ssize_t recvmsg(int fd, struct msghdr* msg, int flags) {
  static ssize_t (*real)(int, struct msghdr*, int);
  if (!real) real = REAL(recvmsg);
  const ssize_t r = real(fd, msg, flags);
  const int saved = errno;
  atomic_fetch_add_explicit(&n_recv, 1, memory_order_relaxed);
  if (r < 0 && saved == EAGAIN) atomic_fetch_add_explicit(&n_eagain, 1, memory_order_relaxed);
  errno = saved;
  return r;
}

ssize_t sendmsg(int fd, const struct msghdr* msg, int flags) {
  static ssize_t (*real)(int, const struct msghdr*, int);
  if (!real) real = REAL(sendmsg);
  atomic_fetch_add_explicit(&n_send, 1, memory_order_relaxed);
  return real(fd, msg, flags);
}

ssize_t writev(int fd, const struct iovec* iov, int count) {
  static ssize_t (*real)(int, const struct iovec*, int);
  if (!real) real = REAL(writev);
  atomic_fetch_add_explicit(&n_send, 1, memory_order_relaxed);
  return real(fd, iov, count);
}

int getsockopt(int fd, int level, int name, void* value, socklen_t* len) {
  static int (*real)(int, int, int, void*, socklen_t*);
  if (!real) real = REAL(getsockopt);
  atomic_fetch_add_explicit(&n_getsockopt, 1, memory_order_relaxed);
  return real(fd, level, name, value, len);
}

int epoll_wait(int epfd, struct epoll_event* events, int max, int timeout) {
  static int (*real)(int, struct epoll_event*, int, int);
  if (!real) real = REAL(epoll_wait);
  const int r = real(epfd, events, max, timeout);
  const int saved = errno;
  atomic_fetch_add_explicit(&n_epoll_wait, 1, memory_order_relaxed);
  if (r > 0) atomic_fetch_add_explicit(&n_events, r, memory_order_relaxed);
  errno = saved;
  return r;
}

/* Read at start: NGINX clears its environment. */
static char out_path[4096];

static void dump(void) {
  if (!out_path[0]) return;
  FILE* f = fopen(out_path, "w");
  if (!f) return;
  fprintf(f, "recv %ld eagain %ld send %ld getsockopt %ld epoll_wait %ld events %ld\n",
          atomic_load(&n_recv), atomic_load(&n_eagain), atomic_load(&n_send),
          atomic_load(&n_getsockopt), atomic_load(&n_epoll_wait), atomic_load(&n_events));
  fclose(f);
}

__attribute__((constructor)) static void init(void) {
  const char* path = getenv("SYSCALL_COUNT_OUT");
  if (path) snprintf(out_path, sizeof out_path, "%s", path);
  atexit(dump);
}
