// Version uploads: turns the body of a `PUT/POST /v1/models/{m}/versions[/{v}]` request into the files of a
// version directory, without ever writing outside that directory.
//
// The body is a raw model.onnx or a .tar / .tar.gz of the version directory, with its members either at the
// top level (`tar -C repo/m/1 -cf v.tar .`) or under one top-level directory (`tar -C repo/m -cf v.tar 1`).
// Archives are untrusted input: only regular files and directories with plain relative names are extracted,
// every file is created fresh (O_EXCL) and no symbolic link is ever followed below the destination, and the
// expanded size and the member count are bounded while extracting, not only from the headers. libarchive is
// used only here (and only its gzip filter and tar reader), with zlib beside it to check what libarchive 3.6
// does not: the gzip CRC and length, and how far the compressed stream expands.
//
// Thread-safe: calls share no state; concurrent calls must use different destination directories.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ferry/status.h"

namespace ferry {

struct UnpackLimits {
  // Sum of the sizes of the extracted files, in bytes (a sparse file counts with its holes).
  uint64_t max_total_bytes = 1ull << 30;
  // Regular files plus directories in the result, the directories implied by member paths included.
  uint64_t max_files = 10000;
  // Bytes the repository's quota leaves for this upload (counted like max_total_bytes); UINT64_MAX: no quota.
  // Crossing it is ResourceExhausted rather than InvalidArgument: the upload is fine, the repository is full.
  uint64_t quota_bytes = UINT64_MAX;
};

// The bound an unpack enforces: the smaller of max_total_bytes and quota_bytes.
uint64_t UnpackBudget(const UnpackLimits& limits);

enum class UploadKind { kOnnx, kTar, kTarGz };

// The kind of an upload body, from its first bytes: the gzip magic 1f 8b is kTarGz; "ustar" at offset 257 (a
// POSIX ustar/pax or GNU tar header) is kTar; anything else is kOnnx, left for the model loader to judge (a
// serialized ModelProto cannot start with 1f 8b, which is an invalid protobuf tag).
UploadKind DetectUploadKind(std::string_view body);

// Writes the files of a version directory described by `body` (see DetectUploadKind) into `dest_dir`.
//  - kOnnx: `body` becomes dest_dir/model.onnx.
//  - Archives: regular files and directories are extracted. A leading "./" of a member name is stripped and a
//    "./" or "." directory member (the archive's root) is skipped. Refused, with InvalidArgument naming the
//    member: absolute names, names with an empty, "." or ".." component or any component starting with '.',
//    names with a backslash, names longer than 1024 bytes or with a component longer than 255 bytes, symbolic
//    and hard links, devices, FIFOs and sockets, a member that appears twice (after "./" stripping), a name
//    that is both a file and a directory, more than limits.max_files files and directories, more than
//    limits.max_total_bytes in all (more than limits.quota_bytes: ResourceExhausted). If the archive has no top-level
//    model.onnx but all its members lie under one top-level directory that holds model.onnx, that directory is
//    stripped. The result must hold a top-level model.onnx. A corrupt or truncated archive is InvalidArgument with
//    libarchive's (or zlib's) message, a gzip CRC or length mismatch included. A .tar.gz whose tar stream is longer
//    than the budget (UnpackBudget) plus 16 KiB per allowed member (plus 64 KiB) is refused before extraction (a
//    decompression bomb; ResourceExhausted when the quota is the smaller bound), and so is a gzip stream inside a gzip
//    stream. Sizes are checked against the budget three times, so a bomb stops early: the inflated length before
//    anything is written, the headers' declared sizes before anything is written, and the bytes written.
//    Names are decided from a first pass over all headers before anything is written (the archive is read
//    twice from memory); member names cannot contain NUL (tar names are NUL-terminated strings).
// Files are created with mode 0644 and directories with 0755 (both less the umask). Nothing is fsync'ed.
// REQUIRES: `dest_dir` exists, is an empty directory (else FailedPrecondition) and nothing else writes into it
// meanwhile. On error `dest_dir` may hold partial output, which the caller removes; nothing is ever created
// outside `dest_dir`. Internal on I/O errors.
Status UnpackVersion(std::string_view body, const std::string& dest_dir, const UnpackLimits& limits = {});

// The same for a body stored in the file `path` (an upload the HTTP server streamed to disk). An archive is
// mapped read-only and unpacked as above; a raw model.onnx is renamed to dest_dir/model.onnx instead of being
// copied (copied when the two are on different filesystems), so `path` may be gone afterwards.
// InvalidArgument for an empty file.
Status UnpackVersionFile(const std::string& path, const std::string& dest_dir, const UnpackLimits& limits = {});

}  // namespace ferry
