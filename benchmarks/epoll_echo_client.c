/* The floor wsload's CPU per round trip is measured against: a minimal closed-loop
 * WebSocket client on epoll, no library. N connections open with a handshake, each sends
 * one masked text frame, reads the whole reply frame, then sends the next, M times.
 * Prints round trips and the process's CPU (getrusage, user + sys) per round trip.
 * Usage: epoll_echo_client PORT CONNECTIONS MESSAGES_PER_CONNECTION MESSAGE
 * scripts/round-trip-benchmark.sh builds and runs it beside wsload. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { buffer_size = 1 << 16 };

struct connection {
  int fd;
  long left;   /* messages still to send */
  size_t have; /* reply bytes read */
  unsigned char in[buffer_size];
};

static const char* message;
static size_t message_size;
static uint32_t random_state = 2463534242u;

static void fail(const char* what) {
  perror(what);
  exit(1);
}

static void send_all(int fd, const unsigned char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("send");
    }
    data += n;
    size -= (size_t)n;
  }
}

/* One masked text frame, as a client must send it (RFC 6455 5.3). */
static void send_message(int fd) {
  unsigned char frame[14 + buffer_size];
  size_t at = 0;
  frame[at++] = 0x81;
  if (message_size < 126) {
    frame[at++] = (unsigned char)(0x80 | message_size);
  } else {
    frame[at++] = 0x80 | 126;
    frame[at++] = (unsigned char)(message_size >> 8);
    frame[at++] = (unsigned char)message_size;
  }
  random_state ^= random_state << 13;
  random_state ^= random_state >> 17;
  random_state ^= random_state << 5;
  unsigned char mask[4];
  memcpy(mask, &random_state, 4);
  memcpy(frame + at, mask, 4);
  at += 4;
  for (size_t i = 0; i < message_size; ++i)
    frame[at + i] = (unsigned char)(message[i] ^ mask[i & 3]);
  send_all(fd, frame, at + message_size);
}

/* The size of the complete unmasked frame at the start of `data`, or 0 when incomplete. */
static size_t frame_size(const unsigned char* data, size_t have) {
  if (have < 2) return 0;
  size_t header = 2, length = data[1] & 0x7f;
  if (length == 126) {
    if (have < 4) return 0;
    length = ((size_t)data[2] << 8) | data[3];
    header = 4;
  } else if (length == 127) {
    fprintf(stderr, "reply too large for this client\n");
    exit(1);
  }
  return have >= header + length ? header + length : 0;
}

static int open_connection(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) fail("socket");
  struct sockaddr_in address = {0};
  address.sin_family = AF_INET;
  address.sin_port = htons((uint16_t)port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr*)&address, sizeof address) != 0) fail("connect");
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  char request[256];
  const int n = snprintf(request, sizeof request,
                         "GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                         "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                         "Sec-WebSocket-Version: 13\r\n\r\n",
                         port);
  send_all(fd, (const unsigned char*)request, (size_t)n);
  char response[1024];
  size_t have = 0;
  while (have < sizeof response - 1) {
    const ssize_t r = recv(fd, response + have, 1, 0); /* byte by byte: no frame bytes taken */
    if (r <= 0) fail("handshake");
    have += (size_t)r;
    response[have] = '\0';
    if (have >= 4 && memcmp(response + have - 4, "\r\n\r\n", 4) == 0) break;
  }
  if (strncmp(response, "HTTP/1.1 101", 12) != 0) {
    fprintf(stderr, "handshake refused: %s\n", response);
    exit(1);
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

int main(int argc, char** argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s PORT CONNECTIONS MESSAGES_PER_CONNECTION MESSAGE\n", argv[0]);
    return 2;
  }
  const int port = atoi(argv[1]);
  const int connections = atoi(argv[2]);
  const long messages = atol(argv[3]);
  message = argv[4];
  message_size = strlen(message);
  if (message_size >= 65536 - 16) {
    fprintf(stderr, "message too large for this client\n");
    return 2;
  }
  const int epoll = epoll_create1(0);
  struct connection* all = calloc((size_t)connections, sizeof *all);
  if (!all || epoll < 0) fail("setup");
  struct timespec start, end;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (int i = 0; i < connections; ++i) {
    all[i].fd = open_connection(port);
    all[i].left = messages;
    struct epoll_event event = {.events = EPOLLIN, .data.ptr = &all[i]};
    if (epoll_ctl(epoll, EPOLL_CTL_ADD, all[i].fd, &event) != 0) fail("epoll_ctl");
    send_message(all[i].fd);
    --all[i].left;
  }
  long open = connections, round_trips = 0;
  struct epoll_event events[256];
  while (open > 0) {
    const int ready = epoll_wait(epoll, events, 256, 10000);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) fail("epoll_wait (no reply in 10 s)");
    for (int e = 0; e < ready; ++e) {
      struct connection* c = events[e].data.ptr;
      const ssize_t n = recv(c->fd, c->in + c->have, sizeof c->in - c->have, 0);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (n <= 0) fail("recv");
      c->have += (size_t)n;
      size_t size;
      while ((size = frame_size(c->in, c->have)) > 0) {
        memmove(c->in, c->in + size, c->have - size);
        c->have -= size;
        ++round_trips;
        if (c->left > 0) {
          send_message(c->fd);
          --c->left;
        } else {
          close(c->fd);
          --open;
          break;
        }
      }
    }
  }
  clock_gettime(CLOCK_MONOTONIC, &end);
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  const double cpu = (double)usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 +
                     (double)usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
  const double wall = (double)(end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) / 1e9;
  printf("round_trips %ld wall_s %.3f cpu_us_per_round_trip %.2f\n", round_trips, wall,
         cpu * 1e6 / (double)round_trips);
  free(all);
  return 0;
}
