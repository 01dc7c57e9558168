// Test helper shared by the protocol tests and the JSON reader fuzzer: the pull reader's view of one JSON value as
// an nlohmann DOM, for comparing with nlohmann's own parser (the independent one). The last of a repeated member
// name wins, as in nlohmann's parser.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "protocol/json_reader.h"

namespace ferry::protocol::testing {

// Reads the value at the reader's position into *out; the reader's first error otherwise.
inline Status JsonReaderToDom(JsonReader* r, nlohmann::json* out) {
  switch (r->Peek()) {
    case JsonKind::kObject: {
      *out = nlohmann::json::object();
      FERRY_RETURN_IF_ERROR(r->EnterObject());
      std::string key;
      for (size_t i = 0;; ++i) {
        bool more;
        FERRY_RETURN_IF_ERROR(r->NextMember(i, &more, &key));
        if (!more) return Status::Ok();
        nlohmann::json v;
        FERRY_RETURN_IF_ERROR(JsonReaderToDom(r, &v));
        (*out)[key] = std::move(v);
      }
    }
    case JsonKind::kArray: {
      *out = nlohmann::json::array();
      FERRY_RETURN_IF_ERROR(r->EnterArray());
      for (size_t i = 0;; ++i) {
        bool more;
        FERRY_RETURN_IF_ERROR(r->NextElement(i, &more));
        if (!more) return Status::Ok();
        nlohmann::json v;
        FERRY_RETURN_IF_ERROR(JsonReaderToDom(r, &v));
        out->push_back(std::move(v));
      }
    }
    case JsonKind::kString: {
      std::string s;
      FERRY_RETURN_IF_ERROR(r->ReadString(&s));
      *out = std::move(s);
      return Status::Ok();
    }
    case JsonKind::kBool: {
      bool b;
      FERRY_RETURN_IF_ERROR(r->ReadBool(&b));
      *out = b;
      return Status::Ok();
    }
    case JsonKind::kNull:
      *out = nullptr;
      return r->ReadNull();
    default: {
      JsonNumber n;
      FERRY_RETURN_IF_ERROR(r->ReadNumber(&n));
      int64_t i;
      uint64_t u;
      if (n.ToInt64(&i)) {
        *out = i;
      } else if (n.ToUInt64(&u)) {
        *out = u;
      } else {
        *out = n.ToDouble();
      }
      return Status::Ok();
    }
  }
}

}  // namespace ferry::protocol::testing
