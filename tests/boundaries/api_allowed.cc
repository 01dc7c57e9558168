// Compiled by tests/boundaries with src/api's include path: everything src/api may include is found (so the
// failures of include_probe.cc with the same path mean "not visible", not "broken command line").
#include "api/rest_api.h"
#include "auth/token_set.h"
#include "ferry/server.h"
#include "http/http_types.h"
#include "metrics/metrics.h"
#include "protocol/kserve_codec.h"
#include "protocol/tfserving_codec.h"
