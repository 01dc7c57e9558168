// Fuzzes the version upload unpacker (src/registry/version_archive: raw model.onnx, .tar and .tar.gz bodies,
// libarchive and zlib underneath), both from memory (UnpackVersion) and from a file (UnpackVersionFile).
//
// Each input is unpacked into fresh directories inside a private sandbox, several levels deep:
//   <tmp>/ferry-archive-fuzz-XXXXXX/l1/l2/l3/box/{mem,file,upload.bin}
// and the sandbox is emptied after each input. Properties, beyond "no crash, no UB, no leak":
//  - nothing is ever created outside the destination (every level of the sandbox holds only what the harness
//    put there, so a "../" escape up to four levels shows);
//  - the destination holds only regular files and directories, no links, within the limits;
//  - an OK unpack has a top-level model.onnx; a raw model is stored byte for byte;
//  - errors are InvalidArgument (ResourceExhausted when over the limits), never Internal;
//  - both entry points agree on the outcome and on the files written.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <system_error>

#include "fuzz_util.h"
#include "registry/version_archive.h"

namespace fs = std::filesystem;

namespace ferry {
namespace {

constexpr uint64_t kMaxTotalBytes = 1 << 20;
constexpr uint64_t kMaxFiles = 64;

struct Sandbox {
  fs::path root;  // <tmp>/ferry-archive-fuzz-XXXXXX
  fs::path box;   // root/l1/l2/l3/box
};

const Sandbox& GetSandbox() {
  static const Sandbox* sandbox = [] {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/ferry-archive-fuzz-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      std::perror("mkdtemp");
      std::abort();
    }
    auto* s = new Sandbox{pattern, fs::path(pattern) / "l1" / "l2" / "l3" / "box"};
    // Removed when the fuzzer exits normally (a crash leaves it for inspection).
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(GetSandbox().root, ec);
    });
    return s;
  }();
  return *sandbox;
}

std::set<std::string> Entries(const fs::path& dir) {
  std::set<std::string> names;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) names.insert(e.path().filename().string());
  FUZZ_CHECK(!ec, "cannot list " + dir.string() + ": " + ec.message());
  return names;
}

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The tree under `dest`: relative path -> contents ("/" for a directory), after checking what it may hold.
std::map<std::string, std::string> CheckTree(const fs::path& dest) {
  std::map<std::string, std::string> tree;
  uint64_t bytes = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dest, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    const fs::file_status st = fs::symlink_status(it->path());
    const std::string rel = it->path().lexically_relative(dest).string();
    FUZZ_CHECK(fs::is_regular_file(st) || fs::is_directory(st),
               "unpacked a member that is neither a file nor a "
               "directory: " +
                   rel);
    if (fs::is_directory(st)) {
      tree[rel] = "/";
    } else {
      tree[rel] = ReadAll(it->path());
      bytes += tree[rel].size();
    }
  }
  FUZZ_CHECK(!ec, "cannot walk " + dest.string() + ": " + ec.message());
  FUZZ_CHECK(tree.size() <= kMaxFiles, std::to_string(tree.size()) + " files and directories");
  FUZZ_CHECK(bytes <= kMaxTotalBytes, std::to_string(bytes) + " bytes unpacked");
  return tree;
}

void CheckOutcome(const Status& s, const fs::path& dest, std::string_view body) {
  if (s.ok()) {
    FUZZ_CHECK(fs::is_regular_file(fs::symlink_status(dest / "model.onnx")), "OK without a top-level model.onnx");
    if (DetectUploadKind(body) == UploadKind::kOnnx) {
      FUZZ_CHECK(ReadAll(dest / "model.onnx") == body, "the raw model was not stored byte for byte");
    }
    return;
  }
  FUZZ_CHECK(s.code() == StatusCode::kInvalidArgument || s.code() == StatusCode::kResourceExhausted, s);
}

}  // namespace
}  // namespace ferry

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ferry;
  const Sandbox& sandbox = GetSandbox();
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const fs::path mem = sandbox.box / "mem", file = sandbox.box / "file", upload = sandbox.box / "upload.bin";
  fs::create_directories(mem);
  fs::create_directories(file);
  {
    std::ofstream out(upload, std::ios::binary);
    out.write(body.data(), static_cast<std::streamsize>(body.size()));
  }
  UnpackLimits limits;
  limits.max_total_bytes = kMaxTotalBytes;
  limits.max_files = kMaxFiles;

  const Status from_memory = UnpackVersion(body, mem.string(), limits);
  const Status from_file = UnpackVersionFile(upload.string(), file.string(), limits);

  // Nothing outside the destinations, at any level.
  const fs::path levels[] = {sandbox.root, sandbox.root / "l1", sandbox.root / "l1" / "l2",
                             sandbox.root / "l1" / "l2" / "l3"};
  const char* inner[] = {"l1", "l2", "l3", "box"};
  for (size_t i = 0; i < 4; ++i) {
    FUZZ_CHECK(Entries(levels[i]) == std::set<std::string>{inner[i]}, "something was written in " + levels[i].string());
  }
  std::set<std::string> box = Entries(sandbox.box);
  box.erase("upload.bin");  // renamed away when a raw model is unpacked from the file
  FUZZ_CHECK((box == std::set<std::string>{"file", "mem"}), "something was written beside the destinations");

  CheckOutcome(from_memory, mem, body);
  const std::map<std::string, std::string> mem_tree = CheckTree(mem);
  if (size == 0) {
    FUZZ_CHECK(!from_file.ok(), "an empty file unpacked");
  } else {
    CheckOutcome(from_file, file, body);
    FUZZ_CHECK(from_memory.ok() == from_file.ok(),
               "memory: " + from_memory.ToString() + "\nfile: " + from_file.ToString());
    if (from_memory.ok()) FUZZ_CHECK(mem_tree == CheckTree(file), "the two entry points wrote different files");
  }
  std::error_code ec;
  fs::remove_all(sandbox.box, ec);
  FUZZ_CHECK(!ec, "cannot empty the sandbox: " + ec.message());
  return 0;
}
