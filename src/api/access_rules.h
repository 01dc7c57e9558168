// What a request needs to be allowed: the scope (auth::Scope) and the model it names, from its method and path
// alone, before routing. Pure function; used by RestApi for bearer tokens and the management guards.
#pragma once

#include <string>
#include <string_view>

#include "auth/token_set.h"

namespace ferry::api {

struct Access {
  bool open = false;  // health and server metadata: no token needed
  auth::Scope scope = auth::kRead;
  std::string model;         // the model the route names; "" with server_wide
  bool server_wide = false;  // metrics, statistics of all models, the repository index, unknown routes
  bool management = false;   // changes the repository (uploads, deletes, config edits, load/unload): audited
  // Changes or reveals the repository (management, config reads, the repository extension): without tokens,
  // only a loopback server answers these, and only to local, same-site requests.
  bool repository = false;
};

// Routes and what they need:
//   GET /v2, /v2/health/live, /v2/health/ready                       open
//   POST /v1/models/{m}[...]:predict|:classify|:regress, /v2/models/{m}[/versions/{v}]/infer    infer on m
//   PUT/POST/DELETE versions of m, PUT /v1/models/{m}/config, POST /v2/repository/models/{m}/load|unload
//                                                                      manage on m (management)
//   other /v1/models/{m}..., /v2/models/{m}...                          read on m
//   /metrics, /v2/models/stats, /v2/repository/index, anything else    read, server-wide
// `repository` is set for the management routes, every /v1/models/{m}/config and every /v2/repository/ route.
Access RequiredAccess(std::string_view method, std::string_view path);

}  // namespace ferry::api
