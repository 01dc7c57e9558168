#include "registry/version_archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "registry/repository.h"  // kModelFileName

namespace ferry {
namespace {

constexpr size_t kMaxNameBytes = 1024;
constexpr size_t kMaxComponentBytes = 255;
constexpr const char* kNoModelMessage =
    "the archive has no model.onnx at its top level or under its single top-level directory";

std::string ErrnoText(int err) { return std::error_code(err, std::generic_category()).message(); }

// A member name for a message: quoted, non-printable and non-ASCII bytes escaped (names come from the
// client and end up in logs and JSON), cut short.
std::string Quote(std::string_view name) {
  constexpr size_t kMaxShown = 200;
  std::string out = "\"";
  for (size_t i = 0; i < name.size() && i < kMaxShown; ++i) {
    unsigned char c = static_cast<unsigned char>(name[i]);
    if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  if (name.size() > kMaxShown) out += "...";
  return out + "\"";
}

Status RefuseMember(std::string_view name, std::string_view why) {
  return InvalidArgument("archive member {} {}", Quote(name), why);
}

bool QuotaBinds(const UnpackLimits& limits) { return limits.quota_bytes < limits.max_total_bytes; }

Status TooBig(std::string_view name, const UnpackLimits& limits) {
  if (QuotaBinds(limits)) {
    return ResourceExhausted("the upload needs more than the {} bytes the repository quota leaves, at member {}",
                             limits.quota_bytes, Quote(name));
  }
  return InvalidArgument("the archive expands to more than {} bytes (max_total_bytes), at member {}",
                         limits.max_total_bytes, Quote(name));
}

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  // Closes now, reporting the error close() may carry (a delayed write error).
  int Close() { return ::close(std::exchange(fd_, -1)); }

 private:
  int fd_;
};

struct ArchiveDeleter {
  void operator()(archive* a) const { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<archive, ArchiveDeleter>;

Status ArchiveError(archive* a) {
  const char* message = archive_error_string(a);
  return InvalidArgument("cannot read the archive: {}", message != nullptr ? message : "unknown error");
}

Result<ArchivePtr> OpenArchive(std::string_view body) {
  ArchivePtr a(archive_read_new());
  if (a == nullptr) return Internal("archive_read_new failed");
  // ARCHIVE_WARN here would mean gzip through an external program: refuse that rather than fork.
  if (archive_read_support_filter_gzip(a.get()) != ARCHIVE_OK ||
      archive_read_support_format_tar(a.get()) != ARCHIVE_OK) {
    return Internal("libarchive lacks built-in gzip or tar support");
  }
  if (archive_read_open_memory(a.get(), body.data(), body.size()) != ARCHIVE_OK) return ArchiveError(a.get());
  return a;
}

// Bytes a legitimate tar stream may hold beyond its files' contents: per member a header, a pax extended header
// with its records, and padding; plus the end-of-archive blocks and record padding.
constexpr uint64_t kTarOverheadPerMember = 16 << 10;
constexpr uint64_t kTarOverheadFixed = 64 << 10;

uint64_t SaturatingAdd(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }
uint64_t SaturatingMul(uint64_t a, uint64_t b) { return b != 0 && a > UINT64_MAX / b ? UINT64_MAX : a * b; }

// Inflates a gzip body once, keeping nothing, before libarchive reads it. libarchive 3.6 checks neither the
// CRC nor the length in the gzip trailer, so a damaged file would be extracted silently; and it would also
// decompress for as long as the tar reader asks (skipping a member, a pax global header), so a small body could
// expand without end. Here every member's trailer is checked and the tar stream is bounded by what `limits`
// allow, which then bounds both libarchive passes.
Status CheckGzip(std::string_view body, const UnpackLimits& limits) {
  const uint64_t max_tar_bytes =
      SaturatingAdd(SaturatingAdd(UnpackBudget(limits), kTarOverheadFixed),
                    SaturatingMul(SaturatingAdd(limits.max_files, 2), kTarOverheadPerMember));
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) return Internal("cannot initialize zlib");
  struct InflateEnd {
    z_stream* zs;
    ~InflateEnd() { inflateEnd(zs); }
  } end{&zs};

  constexpr size_t kChunk = 1 << 30;  // avail_in is 32-bit
  size_t fed = 0;
  uint64_t total = 0;
  unsigned char head[2] = {0, 0};
  std::vector<unsigned char> out(1 << 16);
  for (;;) {
    if (zs.avail_in == 0 && fed < body.size()) {
      const size_t n = std::min(kChunk, body.size() - fed);
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(body.data() + fed));
      zs.avail_in = static_cast<uInt>(n);
      fed += n;
    }
    zs.next_out = out.data();
    zs.avail_out = static_cast<uInt>(out.size());
    const int r = inflate(&zs, Z_NO_FLUSH);
    const size_t produced = out.size() - zs.avail_out;
    for (size_t i = 0; total + i < 2 && i < produced; ++i) head[total + i] = out[i];
    total += produced;
    if (total > max_tar_bytes) {
      if (QuotaBinds(limits)) {
        return ResourceExhausted(
            "the archive decompresses to more than {} bytes, more than the {} bytes the repository quota leaves "
            "can hold",
            max_tar_bytes, limits.quota_bytes);
      }
      return InvalidArgument("the archive decompresses to more than {} bytes (max_total_bytes and max_files allow)",
                             max_tar_bytes);
    }
    if (r == Z_STREAM_END) {
      // gzip allows several members back to back; anything else after the last one (zero padding) is ignored,
      // as libarchive and gzip do.
      const size_t left = zs.avail_in + (body.size() - fed);
      const size_t at = body.size() - left;
      if (left >= 2 && static_cast<unsigned char>(body[at]) == 0x1f &&
          static_cast<unsigned char>(body[at + 1]) == 0x8b) {
        if (inflateReset(&zs) != Z_OK) return Internal("cannot reset zlib");
        continue;
      }
      break;
    }
    if (r == Z_MEM_ERROR) return Internal("zlib is out of memory");
    if (r != Z_OK && r != Z_BUF_ERROR) {
      return InvalidArgument("cannot read the archive: corrupt gzip data ({})", zs.msg != nullptr ? zs.msg : "");
    }
    if (zs.avail_in == 0 && fed == body.size() && zs.avail_out != 0) {
      return InvalidArgument("cannot read the archive: truncated gzip data");
    }
  }
  // libarchive would decompress a nested gzip stream too, past the bound checked here.
  if (head[0] == 0x1f && head[1] == 0x8b) return InvalidArgument("the archive is gzip-compressed twice");
  return Status::Ok();
}

// One archive member as it will be extracted: `name` is normalized (no "./" prefix, no trailing '/').
struct Member {
  std::string name;
  bool is_dir = false;
  uint64_t declared_size = 0;  // the header's size field
};

// The normalized name of a member, or nullopt for the archive's root directory ("./" or "."), which is
// skipped.
Result<std::optional<std::string>> NormalizeName(std::string_view raw, bool is_dir) {
  if (raw.find('\\') != std::string_view::npos) return RefuseMember(raw, "contains a backslash");
  if (raw.empty()) return RefuseMember(raw, "has an empty name");
  if (raw.front() == '/') return RefuseMember(raw, "has an absolute path");
  std::string_view name = raw;
  while (name.starts_with("./")) name.remove_prefix(2);
  if (is_dir) {
    while (name.ends_with('/')) name.remove_suffix(1);
    if (name.empty() || name == ".") return std::optional<std::string>();
  }
  if (name.empty()) return RefuseMember(raw, "has an empty name");
  if (name.size() > kMaxNameBytes) return RefuseMember(raw, fmt::format("is longer than {} bytes", kMaxNameBytes));
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = std::min(name.find('/', start), name.size());
    std::string_view component = name.substr(start, end - start);
    if (component.empty()) return RefuseMember(raw, "has an empty path component");
    if (component == "..") return RefuseMember(raw, "has a \"..\" component");
    // Covers "." as well: dot names are how the repository hides staging entries.
    if (component.front() == '.') return RefuseMember(raw, "has a path component starting with '.'");
    if (component.size() > kMaxComponentBytes) {
      return RefuseMember(raw, fmt::format("has a path component longer than {} bytes", kMaxComponentBytes));
    }
    start = end + 1;
  }
  return std::optional<std::string>(std::string(name));
}

// Reads the header `entry` into a Member; nullopt for the root directory entry.
Result<std::optional<Member>> ReadMember(archive_entry* entry, uint64_t index) {
  const char* raw = archive_entry_pathname(entry);
  if (raw == nullptr) raw = archive_entry_pathname_utf8(entry);
  if (raw == nullptr) return InvalidArgument("archive member #{} has a name that cannot be decoded", index + 1);
  // A hard link's entry may carry no file type at all, so look at the link fields first.
  if (archive_entry_hardlink(entry) != nullptr) {
    return RefuseMember(raw, "is a hard link; only regular files and directories are allowed");
  }
  const mode_t type = archive_entry_filetype(entry);
  if (archive_entry_symlink(entry) != nullptr || type == AE_IFLNK) {
    return RefuseMember(raw, "is a symbolic link; only regular files and directories are allowed");
  }
  if (type != AE_IFREG && type != AE_IFDIR) {
    const char* what = type == AE_IFCHR    ? "a character device"
                       : type == AE_IFBLK  ? "a block device"
                       : type == AE_IFIFO  ? "a FIFO"
                       : type == AE_IFSOCK ? "a socket"
                                           : "of an unknown type";
    return RefuseMember(raw, fmt::format("is {}; only regular files and directories are allowed", what));
  }
  Member member;
  member.is_dir = type == AE_IFDIR;
  FERRY_ASSIGN_OR_RETURN(std::optional<std::string> name, NormalizeName(raw, member.is_dir));
  if (!name) return std::optional<Member>();
  member.name = std::move(*name);
  // A directory's size counts too: it is data the tar reader skips (a GNU dumpdir has some).
  if (archive_entry_size_is_set(entry)) {
    const int64_t size = archive_entry_size(entry);
    if (size < 0) return RefuseMember(raw, "has a negative size");
    member.declared_size = static_cast<uint64_t>(size);
  }
  return std::optional<Member>(std::move(member));
}

// Calls `visit(archive*, std::optional<Member>&)` for each header of the archive in `body`; stops at the
// first error.
template <typename Visit>
Status ForEachMember(std::string_view body, Visit&& visit) {
  FERRY_ASSIGN_OR_RETURN(ArchivePtr a, OpenArchive(body));
  for (uint64_t index = 0;; ++index) {
    archive_entry* entry = nullptr;
    const int r = archive_read_next_header(a.get(), &entry);
    if (r == ARCHIVE_EOF) return Status::Ok();
    // ARCHIVE_WARN (e.g. a name not convertible to the locale) still delivers the header.
    if (r < ARCHIVE_WARN) return ArchiveError(a.get());
    FERRY_ASSIGN_OR_RETURN(std::optional<Member> member, ReadMember(entry, index));
    FERRY_RETURN_IF_ERROR(visit(a.get(), index, member));
  }
}

// What the first pass decided: the members in archive order (root entries left out) and the top-level
// directory to strip ("" or "dir/").
struct Plan {
  std::vector<Member> members;
  std::string strip_prefix;
};

std::string_view FirstComponent(std::string_view name) { return name.substr(0, name.find('/')); }

Result<Plan> PlanArchive(std::string_view body, const UnpackLimits& limits) {
  Plan plan;
  std::set<std::string, std::less<>> seen;
  uint64_t declared_total = 0;
  FERRY_RETURN_IF_ERROR(
      ForEachMember(body, [&](archive*, uint64_t index, const std::optional<Member>& member) -> Status {
        // Two headers more than max_files are allowed, for a "./" entry and a stripped top-level directory;
        // the exact count is checked on the result below. This bound keeps the plan's memory small.
        if (index >= 2 && index - 2 >= limits.max_files) {
          return InvalidArgument("the archive has more than {} files and directories (max_files)", limits.max_files);
        }
        if (!member) return Status::Ok();
        if (!seen.insert(member->name).second) return RefuseMember(member->name, "appears more than once");
        if (member->declared_size > UnpackBudget(limits) - declared_total) return TooBig(member->name, limits);
        declared_total += member->declared_size;
        plan.members.push_back(*member);
        return Status::Ok();
      }));

  auto is_model = [](const Member& m, const std::string& prefix) {
    return !m.is_dir && m.name == prefix + kModelFileName;
  };
  const bool has_top_model =
      std::any_of(plan.members.begin(), plan.members.end(), [&](const Member& m) { return is_model(m, ""); });
  if (!has_top_model && !plan.members.empty()) {
    const std::string top(FirstComponent(plan.members.front().name));
    const std::string prefix = top + "/";
    const bool all_under = std::all_of(plan.members.begin(), plan.members.end(), [&](const Member& m) {
      return (m.is_dir && m.name == top) || m.name.starts_with(prefix);
    });
    const bool has_model =
        std::any_of(plan.members.begin(), plan.members.end(), [&](const Member& m) { return is_model(m, prefix); });
    if (all_under && has_model) plan.strip_prefix = prefix;
  }

  // The result's files and directories (implied parents included): a name may not be both, and the count is
  // bounded. Stops as soon as the bound is crossed, so deep paths cannot blow up the sets.
  std::set<std::string_view> files, dirs;
  bool has_model = false;
  for (const Member& m : plan.members) {
    std::string_view name = m.name;
    name.remove_prefix(std::min(name.size(), plan.strip_prefix.size()));
    if (name.empty()) continue;  // the stripped directory itself
    (m.is_dir ? dirs : files).insert(name);
    has_model = has_model || (!m.is_dir && name == kModelFileName);
    for (size_t slash = name.find('/'); slash != std::string_view::npos; slash = name.find('/', slash + 1)) {
      dirs.insert(name.substr(0, slash));
      if (files.size() + dirs.size() > limits.max_files) break;
    }
    if (files.size() + dirs.size() > limits.max_files) {
      return InvalidArgument("the archive has more than {} files and directories (max_files), at member {}",
                             limits.max_files, Quote(m.name));
    }
  }
  for (std::string_view file : files) {
    if (dirs.count(file) != 0) return RefuseMember(file, "is both a file and a directory");
  }
  if (!has_model) return InvalidArgument("{}", kNoModelMessage);
  return plan;
}

// Creates (if needed) and opens directory `rel` below `root_fd`, one component at a time, never following a
// symbolic link.
Result<Fd> OpenDirs(int root_fd, std::string_view rel) {
  Fd current;
  int parent = root_fd;
  size_t start = 0;
  while (start < rel.size()) {
    const size_t end = std::min(rel.find('/', start), rel.size());
    const std::string component(rel.substr(start, end - start));
    if (::mkdirat(parent, component.c_str(), 0755) != 0 && errno != EEXIST) {
      return Internal("cannot create directory {}: {}", Quote(rel.substr(0, end)), ErrnoText(errno));
    }
    Fd next(::openat(parent, component.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (next.get() < 0) {
      return Internal("cannot open directory {}: {}", Quote(rel.substr(0, end)), ErrnoText(errno));
    }
    current = std::move(next);
    parent = current.get();
    start = end + 1;
  }
  if (current.get() < 0) return Internal("empty directory path");
  return current;
}

Status WriteAll(int fd, const char* data, size_t size, uint64_t offset, std::string_view name) {
  while (size > 0) {
    const ssize_t n = ::pwrite(fd, data, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Internal("cannot write {}: {}", Quote(name), ErrnoText(n < 0 ? errno : EIO));
    data += n;
    size -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return Status::Ok();
}

// Creates regular file `name` (relative to `root_fd`, parents already validated) and fills it with `data`, or
// with the current member's data read from `a` when `a` is set. At most `budget` bytes, holes counted; the
// file's size is added to `*total`.
Status WriteFile(int root_fd, std::string_view name, archive* a, std::string_view data, uint64_t declared_size,
                 uint64_t budget, const UnpackLimits& limits, uint64_t* total) {
  const size_t slash = name.rfind('/');
  Fd parent_holder;
  int parent = root_fd;
  if (slash != std::string_view::npos) {
    FERRY_ASSIGN_OR_RETURN(parent_holder, OpenDirs(root_fd, name.substr(0, slash)));
    parent = parent_holder.get();
  }
  if (a == nullptr && data.size() > budget) return TooBig(name, limits);
  const std::string leaf(slash == std::string_view::npos ? name : name.substr(slash + 1));
  Fd fd(::openat(parent, leaf.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (fd.get() < 0) return Internal("cannot create {}: {}", Quote(name), ErrnoText(errno));

  uint64_t extent = 0;
  if (a == nullptr) {
    FERRY_RETURN_IF_ERROR(WriteAll(fd.get(), data.data(), data.size(), 0, name));
    extent = data.size();
  } else {
    for (;;) {
      const void* block = nullptr;
      size_t size = 0;
      la_int64_t offset = 0;
      const int r = archive_read_data_block(a, &block, &size, &offset);
      if (r == ARCHIVE_EOF) break;
      if (r != ARCHIVE_OK) return ArchiveError(a);
      // A sparse map may place data past the size the header declared, so the bound is enforced here.
      if (offset < 0 || static_cast<uint64_t>(offset) > budget || size > budget - static_cast<uint64_t>(offset)) {
        return TooBig(name, limits);
      }
      FERRY_RETURN_IF_ERROR(WriteAll(fd.get(), static_cast<const char*>(block), size, offset, name));
      extent = std::max(extent, static_cast<uint64_t>(offset) + size);
    }
    // A sparse file's trailing hole.
    if (declared_size > extent) {
      if (declared_size > budget) return TooBig(name, limits);
      if (::ftruncate(fd.get(), static_cast<off_t>(declared_size)) != 0) {
        return Internal("cannot write {}: {}", Quote(name), ErrnoText(errno));
      }
      extent = declared_size;
    }
  }
  // On disk before the caller publishes the version: an upload that was answered 201 must survive a crash.
  if (::fsync(fd.get()) != 0 || fd.Close() != 0) return Internal("cannot write {}: {}", Quote(name), ErrnoText(errno));
  *total += extent;
  return Status::Ok();
}

Status ExtractArchive(std::string_view body, const Plan& plan, int root_fd, const UnpackLimits& limits) {
  size_t next = 0;
  uint64_t total = 0;
  return ForEachMember(body, [&](archive* a, uint64_t, const std::optional<Member>& member) -> Status {
    if (!member) return Status::Ok();
    // The same bytes parse the same way; this only guards against writing anything the plan did not check.
    if (next >= plan.members.size() || plan.members[next].name != member->name ||
        plan.members[next].is_dir != member->is_dir) {
      return Internal("the archive read differently the second time");
    }
    const Member& planned = plan.members[next++];
    std::string_view name = planned.name;
    name.remove_prefix(std::min(name.size(), plan.strip_prefix.size()));
    if (name.empty()) return Status::Ok();
    if (planned.is_dir) return OpenDirs(root_fd, name).status();
    return WriteFile(root_fd, name, a, {}, planned.declared_size, UnpackBudget(limits) - total, limits, &total);
  });
}

Result<Fd> OpenDestDir(const std::string& dest_dir) {
  Fd fd(::open(dest_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) {
    return Status(StatusCode::kFailedPrecondition,
                  fmt::format("cannot open destination directory {}: {}", dest_dir, ErrnoText(errno)));
  }
  std::error_code ec;
  const bool empty = std::filesystem::is_empty(dest_dir, ec);
  if (ec || !empty) {
    return Status(StatusCode::kFailedPrecondition, fmt::format("destination directory {} is not empty", dest_dir));
  }
  return fd;
}

}  // namespace

uint64_t UnpackBudget(const UnpackLimits& limits) { return std::min(limits.max_total_bytes, limits.quota_bytes); }

UploadKind DetectUploadKind(std::string_view body) {
  if (body.size() >= 2 && static_cast<unsigned char>(body[0]) == 0x1f && static_cast<unsigned char>(body[1]) == 0x8b) {
    return UploadKind::kTarGz;
  }
  constexpr size_t kMagicOffset = 257;
  if (body.size() >= kMagicOffset + 5 && body.substr(kMagicOffset, 5) == "ustar") return UploadKind::kTar;
  return UploadKind::kOnnx;
}

Status UnpackVersion(std::string_view body, const std::string& dest_dir, const UnpackLimits& limits) {
  FERRY_ASSIGN_OR_RETURN(Fd root, OpenDestDir(dest_dir));
  const UploadKind kind = DetectUploadKind(body);
  if (kind == UploadKind::kOnnx) {
    uint64_t total = 0;
    return WriteFile(root.get(), kModelFileName, nullptr, body, body.size(), UnpackBudget(limits), limits, &total);
  }
  if (kind == UploadKind::kTarGz) FERRY_RETURN_IF_ERROR(CheckGzip(body, limits));
  FERRY_ASSIGN_OR_RETURN(Plan plan, PlanArchive(body, limits));
  return ExtractArchive(body, plan, root.get(), limits);
}

Status UnpackVersionFile(const std::string& path, const std::string& dest_dir, const UnpackLimits& limits) {
  Fd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (file.get() < 0) return Internal("cannot open the upload {}: {}", path, ErrnoText(errno));
  struct stat st {};
  if (::fstat(file.get(), &st) != 0 || !S_ISREG(st.st_mode))
    return Internal("the upload {} is not a regular file", path);
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size == 0) return InvalidArgument("the upload is empty: send model.onnx or a .tar/.tar.gz of the version");
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, file.get(), 0);
  if (map == MAP_FAILED) return Internal("cannot map the upload {}: {}", path, ErrnoText(errno));
  struct Unmap {
    void* p;
    size_t n;
    ~Unmap() { ::munmap(p, n); }
  } unmap{map, static_cast<size_t>(size)};
  const std::string_view body(static_cast<const char*>(map), static_cast<size_t>(size));
  if (DetectUploadKind(body) != UploadKind::kOnnx) return UnpackVersion(body, dest_dir, limits);
  // A raw model: moved into place rather than copied, when it is on the destination's filesystem.
  FERRY_ASSIGN_OR_RETURN(Fd root, OpenDestDir(dest_dir));
  if (size > UnpackBudget(limits)) return TooBig(kModelFileName, limits);
  if (::renameat(AT_FDCWD, path.c_str(), root.get(), kModelFileName) == 0) return Status::Ok();
  if (errno != EXDEV) return Internal("cannot move the upload into {}: {}", dest_dir, ErrnoText(errno));
  uint64_t total = 0;
  return WriteFile(root.get(), kModelFileName, nullptr, body, body.size(), UnpackBudget(limits), limits, &total);
}

}  // namespace ferry
