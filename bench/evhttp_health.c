/* The libevent evhttp side of the HTTP library choice (bench/RESULTS.md, "HTTP layer"): the smallest evhttp
 * server answering GET /v2/health/live with an empty 200, on one event loop, to compare with ferryd's Beast server
 * on the same endpoint. Not built by CMake (libevent is not a Ferry dependency):
 *
 *   cc -O2 -o /tmp/evhttp_health bench/evhttp_health.c -levent && /tmp/evhttp_health PORT
 *   wrk -t1 -c1 -d5s --latency http://127.0.0.1:PORT/v2/health/live
 */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>

static void Health(struct evhttp_request* req, void* arg) {
  (void)arg;
  evhttp_send_reply(req, 200, "OK", NULL);
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: evhttp_health PORT\n");
    return 2;
  }
  struct event_base* base = event_base_new();
  struct evhttp* http = evhttp_new(base);
  evhttp_set_cb(http, "/v2/health/live", Health, NULL);
  evhttp_set_max_headers_size(http, 32 * 1024);
  evhttp_set_max_body_size(http, 64 << 20);
  if (evhttp_bind_socket(http, "127.0.0.1", (unsigned short)atoi(argv[1])) != 0) {
    fprintf(stderr, "cannot bind\n");
    return 1;
  }
  event_base_dispatch(base);
  return 0;
}
