// UnpackVersion and DetectUploadKind: archives built here with libarchive's writer (the hostile ones too, each
// checked to really hold its hostile member), and archives made by the system tar and by Python's tarfile.
// Every refusal also checks that nothing appeared beside the destination directory.
#include "registry/version_archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace ferry {
namespace {

namespace fs = std::filesystem;

enum class Type { kFile, kDir, kSymlink, kHardlink, kFifo, kCharDevice };

struct Entry {
  std::string name;
  Type type = Type::kFile;
  std::string data;  // kFile
  std::string link;  // kSymlink, kHardlink: the target
};

Entry File(std::string name, std::string data = "x") { return {std::move(name), Type::kFile, std::move(data), ""}; }
Entry Dir(std::string name) { return {std::move(name), Type::kDir, "", ""}; }
Entry Symlink(std::string name, std::string target) { return {std::move(name), Type::kSymlink, "", std::move(target)}; }
Entry Hardlink(std::string name, std::string target) {
  return {std::move(name), Type::kHardlink, "", std::move(target)};
}
Entry Special(std::string name, Type type) { return {std::move(name), type, "", ""}; }

enum class Format { kPax, kUstar, kGnu };

la_ssize_t AppendToString(archive*, void* out, const void* data, size_t size) {
  static_cast<std::string*>(out)->append(static_cast<const char*>(data), size);
  return static_cast<la_ssize_t>(size);
}

// Writes `entries` as a tar (gzip-compressed when `gzip`) with libarchive's writer, which writes names as given:
// it neither strips "/" nor refuses "..", exactly what a hostile client would send.
std::string MakeTar(const std::vector<Entry>& entries, bool gzip = false, Format format = Format::kPax) {
  std::string out;
  archive* a = archive_write_new();
  if (format == Format::kPax) archive_write_set_format_pax_restricted(a);
  if (format == Format::kUstar) archive_write_set_format_ustar(a);
  if (format == Format::kGnu) archive_write_set_format_gnutar(a);
  if (gzip) archive_write_add_filter_gzip(a);
  // No padding to 10 KiB records: it would hide the end of a compressed stream from the truncation tests.
  archive_write_set_bytes_in_last_block(a, 1);
  archive_write_open2(a, &out, nullptr, AppendToString, nullptr, nullptr);
  for (const Entry& e : entries) {
    archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, e.name.c_str());
    archive_entry_set_mtime(entry, 1700000000, 0);
    switch (e.type) {
      case Type::kFile:
        archive_entry_set_filetype(entry, AE_IFREG);
        archive_entry_set_perm(entry, 0644);
        archive_entry_set_size(entry, static_cast<la_int64_t>(e.data.size()));
        break;
      case Type::kDir:
        archive_entry_set_filetype(entry, AE_IFDIR);
        archive_entry_set_perm(entry, 0755);
        break;
      case Type::kSymlink:
        archive_entry_set_filetype(entry, AE_IFLNK);
        archive_entry_set_perm(entry, 0777);
        archive_entry_set_symlink(entry, e.link.c_str());
        break;
      case Type::kHardlink:
        archive_entry_set_filetype(entry, AE_IFREG);
        archive_entry_set_perm(entry, 0644);
        archive_entry_set_hardlink(entry, e.link.c_str());
        break;
      case Type::kFifo:
        archive_entry_set_filetype(entry, AE_IFIFO);
        archive_entry_set_perm(entry, 0644);
        break;
      case Type::kCharDevice:
        archive_entry_set_filetype(entry, AE_IFCHR);
        archive_entry_set_perm(entry, 0644);
        archive_entry_set_rdev(entry, makedev(1, 3));
        break;
    }
    if (archive_write_header(a, entry) != ARCHIVE_OK) {
      ADD_FAILURE() << "cannot write header " << e.name << ": " << archive_error_string(a);
    }
    if (e.type == Type::kFile && !e.data.empty()) archive_write_data(a, e.data.data(), e.data.size());
    archive_entry_free(entry);
  }
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

// `data` as one gzip member.
std::string Gzip(const std::string& data) {
  std::string out;
  archive* a = archive_write_new();
  archive_write_set_format_raw(a);
  archive_write_add_filter_gzip(a);
  archive_write_set_bytes_in_last_block(a, 1);
  archive_write_open2(a, &out, nullptr, AppendToString, nullptr, nullptr);
  archive_entry* entry = archive_entry_new();
  archive_entry_set_pathname(entry, "raw");
  archive_entry_set_filetype(entry, AE_IFREG);
  archive_entry_set_size(entry, static_cast<la_int64_t>(data.size()));
  if (archive_write_header(a, entry) != ARCHIVE_OK) ADD_FAILURE() << archive_error_string(a);
  archive_write_data(a, data.data(), data.size());
  archive_entry_free(entry);
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

// Incompressible bytes: deflate stores them as they are, so a flipped byte still decodes (only the CRC differs).
std::string Noise(size_t size) {
  std::string noise(size, '\0');
  uint32_t state = 12345;
  for (char& c : noise) {
    state = state * 1664525u + 1013904223u;
    c = static_cast<char>(state >> 24);
  }
  return noise;
}

// The members of an archive as libarchive reads them, "name:kind" each, to check that a test archive really
// holds the member the test is about.
std::vector<std::string> ListArchive(const std::string& body) {
  std::vector<std::string> members;
  archive* a = archive_read_new();
  archive_read_support_filter_gzip(a);
  archive_read_support_format_tar(a);
  archive_read_open_memory(a, body.data(), body.size());
  archive_entry* entry = nullptr;
  while (archive_read_next_header(a, &entry) == ARCHIVE_OK) {
    const char* name = archive_entry_pathname(entry);
    std::string kind = archive_entry_hardlink(entry) != nullptr    ? "hardlink"
                       : archive_entry_filetype(entry) == AE_IFLNK ? "symlink"
                       : archive_entry_filetype(entry) == AE_IFDIR ? "dir"
                       : archive_entry_filetype(entry) == AE_IFIFO ? "fifo"
                       : archive_entry_filetype(entry) == AE_IFCHR ? "chardev"
                       : archive_entry_filetype(entry) == AE_IFREG ? "file"
                                                                   : "other";
    members.push_back(std::string(name != nullptr ? name : "(null)") + ":" + kind);
  }
  archive_read_free(a);
  return members;
}

bool Holds(const std::string& body, const std::string& name_kind) {
  for (const std::string& m : ListArchive(body)) {
    if (m == name_kind) return true;
  }
  return false;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class UnpackVersionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ferry_version_archive_test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    dest_ = root_ + "/stage";
    ASSERT_TRUE(fs::create_directory(dest_));
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  // Empties the destination for the next case of a loop.
  void ResetDest() {
    fs::remove_all(dest_);
    fs::create_directory(dest_);
  }

  // The names in root_, which should be only the destination "stage".
  std::set<std::string> RootNames() const {
    std::set<std::string> names;
    for (const auto& e : fs::directory_iterator(root_)) names.insert(e.path().filename().string());
    return names;
  }

  // Everything under dest_: relative path -> content for files, "<dir>", "<symlink>" or "<other>".
  std::map<std::string, std::string> Tree() const {
    std::map<std::string, std::string> tree;
    for (const auto& e : fs::recursive_directory_iterator(dest_)) {
      const std::string rel = fs::relative(e.path(), dest_).string();
      if (e.is_symlink()) {
        tree[rel] = "<symlink>";
      } else if (e.is_directory()) {
        tree[rel] = "<dir>";
      } else if (e.is_regular_file()) {
        tree[rel] = ReadAll(e.path().string());
      } else {
        tree[rel] = "<other>";
      }
    }
    return tree;
  }

  // Asserts that `body` is refused with InvalidArgument mentioning `message_part`, that nothing but the
  // destination exists in root_ (besides `also_in_root`) and, when `dest_untouched`, that nothing was written
  // (the refusal came from the first pass over the headers).
  void ExpectRefused(const std::string& body, const std::string& message_part, const UnpackLimits& limits = {},
                     bool dest_untouched = true, std::set<std::string> also_in_root = {}) {
    Status s = UnpackVersion(body, dest_, limits);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
    EXPECT_NE(s.message().find(message_part), std::string::npos) << s.message();
    also_in_root.insert("stage");
    EXPECT_EQ(RootNames(), also_in_root);
    if (dest_untouched) {
      EXPECT_TRUE(Tree().empty());
    }
  }

  std::string root_;
  std::string dest_;
};

// --- DetectUploadKind --------------------------------------------------------------------------------------

TEST(DetectUploadKindTest, Kinds) {
  EXPECT_EQ(DetectUploadKind(MakeTar({File("model.onnx")}, /*gzip=*/true)), UploadKind::kTarGz);
  EXPECT_EQ(DetectUploadKind(MakeTar({File("model.onnx")}, false, Format::kPax)), UploadKind::kTar);
  EXPECT_EQ(DetectUploadKind(MakeTar({File("model.onnx")}, false, Format::kUstar)), UploadKind::kTar);
  // GNU tar's magic is "ustar  \0" rather than "ustar\0" "00".
  const std::string gnu = MakeTar({File("model.onnx")}, false, Format::kGnu);
  ASSERT_EQ(gnu.substr(257, 8), std::string("ustar  \0", 8));
  EXPECT_EQ(DetectUploadKind(gnu), UploadKind::kTar);

  EXPECT_EQ(DetectUploadKind(""), UploadKind::kOnnx);
  EXPECT_EQ(DetectUploadKind("\x1f"), UploadKind::kOnnx);
  EXPECT_EQ(DetectUploadKind("\x1f\x8b"), UploadKind::kTarGz);
  // A ModelProto starts with field 1 (ir_version): tag 0x08.
  EXPECT_EQ(DetectUploadKind(std::string("\x08\x07\x12\x04test", 8) + std::string(1000, 'a')), UploadKind::kOnnx);
  std::string almost(262, 'a');
  almost.replace(257, 5, "ustar");
  EXPECT_EQ(DetectUploadKind(almost), UploadKind::kTar);
  EXPECT_EQ(DetectUploadKind(almost.substr(0, 261)), UploadKind::kOnnx);
  almost.replace(257, 5, "ustaR");
  EXPECT_EQ(DetectUploadKind(almost), UploadKind::kOnnx);
}

// --- accepted bodies ---------------------------------------------------------------------------------------

TEST_F(UnpackVersionTest, RawBodyBecomesModelOnnx) {
  const std::string body = std::string("\x08\x07\x12\x04test\0\xff", 10) + std::string(5000, 'm');
  ASSERT_EQ(DetectUploadKind(body), UploadKind::kOnnx);
  Status s = UnpackVersion(body, dest_);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(Tree(), (std::map<std::string, std::string>{{"model.onnx", body}}));
}

TEST_F(UnpackVersionTest, RawBodyOverLimitIsRefused) {
  UnpackLimits limits;
  limits.max_total_bytes = 100;
  ExpectRefused(std::string(101, 'm'), "more than 100 bytes", limits);
  ResetDest();
  EXPECT_TRUE(UnpackVersion(std::string(100, 'm'), dest_, limits).ok());
}

TEST_F(UnpackVersionTest, TopLevelLayoutInEveryFormat) {
  const std::map<std::string, std::string> expected = {
      {"model.onnx", "the model"}, {"data", "<dir>"},          {"data/w.bin", std::string(3000, 'w')},
      {"nested", "<dir>"},         {"nested/deeper", "<dir>"}, {"nested/deeper/x.bin", ""}};
  for (Format format : {Format::kPax, Format::kUstar, Format::kGnu}) {
    for (bool gzip : {false, true}) {
      SCOPED_TRACE(::testing::Message() << "format " << static_cast<int>(format) << " gzip " << gzip);
      ResetDest();
      // "nested" and "nested/deeper" have no entries of their own: they are implied by the file's path.
      const std::string body = MakeTar({File("model.onnx", "the model"), Dir("data"),
                                        File("data/w.bin", std::string(3000, 'w')), File("nested/deeper/x.bin", "")},
                                       gzip, format);
      Status s = UnpackVersion(body, dest_);
      ASSERT_TRUE(s.ok()) << s.ToString();
      EXPECT_EQ(Tree(), expected);
    }
  }
}

TEST_F(UnpackVersionTest, FileAndDirectoryModes) {
  const mode_t mask = ::umask(022);
  ::umask(mask);
  ASSERT_TRUE(UnpackVersion(MakeTar({File("model.onnx"), File("d/w.bin")}), dest_).ok());
  struct stat st;
  ASSERT_EQ(::stat((dest_ + "/model.onnx").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644 & ~mask);
  ASSERT_EQ(::stat((dest_ + "/d").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755 & ~mask);
}

TEST_F(UnpackVersionTest, DotSlashPrefixIsStripped) {
  const std::string body = MakeTar({Dir("./"), File("./model.onnx", "m"), Dir("./data/"), File("./data/w", "w")});
  ASSERT_TRUE(Holds(body, "./model.onnx:file"));
  Status s = UnpackVersion(body, dest_);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(Tree(), (std::map<std::string, std::string>{{"model.onnx", "m"}, {"data", "<dir>"}, {"data/w", "w"}}));
}

TEST_F(UnpackVersionTest, SingleTopLevelDirectoryIsStripped) {
  const std::map<std::string, std::string> expected = {{"model.onnx", "m"}, {"sub", "<dir>"}, {"sub/w", "w"}};
  for (bool with_dir_entry : {true, false}) {
    SCOPED_TRACE(with_dir_entry);
    ResetDest();
    std::vector<Entry> entries = {File("1/model.onnx", "m"), File("1/sub/w", "w")};
    if (with_dir_entry) entries.insert(entries.begin(), Dir("1/"));
    Status s = UnpackVersion(MakeTar(entries, /*gzip=*/true), dest_);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(Tree(), expected);
  }
  ResetDest();
  Status s = UnpackVersion(MakeTar({Dir("./1/"), File("./1/model.onnx", "m"), File("./1/sub/w", "w")}), dest_);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(Tree(), expected);
}

TEST_F(UnpackVersionTest, TopLevelModelWinsOverDirectory) {
  // A top-level model.onnx: nothing is stripped even though "1/" holds one too.
  Status s = UnpackVersion(MakeTar({File("model.onnx", "top"), File("1/model.onnx", "inner")}), dest_);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(Tree(),
            (std::map<std::string, std::string>{{"model.onnx", "top"}, {"1", "<dir>"}, {"1/model.onnx", "inner"}}));
}

TEST_F(UnpackVersionTest, SparseFileKeepsItsHoles) {
  std::string out;
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  archive_write_open2(a, &out, nullptr, AppendToString, nullptr, nullptr);
  for (const char* name : {"model.onnx", "sparse.bin"}) {
    archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, name);
    archive_entry_set_filetype(entry, AE_IFREG);
    archive_entry_set_perm(entry, 0644);
    const bool sparse = std::string(name) == "sparse.bin";
    archive_entry_set_size(entry, sparse ? 1 << 20 : 1);
    if (sparse) archive_entry_sparse_add_entry(entry, 4096, 4);
    ASSERT_EQ(archive_write_header(a, entry), ARCHIVE_OK) << archive_error_string(a);
    // The writer takes the logical content and drops the bytes that fall in holes.
    const std::string data = sparse ? std::string(4096, '\0') + "data" : "m";
    archive_write_data(a, data.data(), data.size());
    archive_entry_free(entry);
  }
  archive_write_close(a);
  archive_write_free(a);
  ASSERT_NE(out.find("GNU.sparse"), std::string::npos);

  Status s = UnpackVersion(out, dest_);
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::string expected(1 << 20, '\0');
  expected.replace(4096, 4, "data");
  const std::string got = ReadAll(dest_ + "/sparse.bin");
  EXPECT_EQ(got.size(), expected.size());
  EXPECT_TRUE(got == expected);  // not EXPECT_EQ: a mismatch would print a megabyte
  EXPECT_EQ(got.substr(4096, 4), "data");
  EXPECT_EQ(ReadAll(dest_ + "/model.onnx"), "m");
}

TEST_F(UnpackVersionTest, LimitsAreInclusive) {
  UnpackLimits limits;
  limits.max_total_bytes = 1000;
  limits.max_files = 4;  // model.onnx, d, d/a, d/b
  Status s = UnpackVersion(MakeTar({File("model.onnx", std::string(400, 'm')), File("d/a", std::string(300, 'a')),
                                    File("d/b", std::string(300, 'b'))}),
                           dest_, limits);
  EXPECT_TRUE(s.ok()) << s.ToString();
}

// --- archives from real tools ------------------------------------------------------------------------------

class RealToolTest : public UnpackVersionTest {
 protected:
  void SetUp() override {
    UnpackVersionTest::SetUp();
    src_ = root_ + "/src";
    fs::create_directories(src_ + "/m/1/data");
    std::ofstream(src_ + "/m/1/model.onnx", std::ios::binary) << "model bytes";
    std::ofstream(src_ + "/m/1/data/weights.bin", std::ios::binary) << std::string(70000, 'w');
  }

  // Runs `command` and returns the archive it wrote to `archive_path`.
  std::string Make(const std::string& command, const std::string& archive_path) {
    EXPECT_EQ(std::system(command.c_str()), 0) << command;
    return ReadAll(archive_path);
  }

  void ExpectVersion(const std::string& body) {
    ResetDest();
    Status s = UnpackVersion(body, dest_);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(Tree(),
              (std::map<std::string, std::string>{
                  {"model.onnx", "model bytes"}, {"data", "<dir>"}, {"data/weights.bin", std::string(70000, 'w')}}));
  }

  std::string src_;
};

TEST_F(RealToolTest, SystemTarBothLayouts) {
  if (std::system("tar --version >/dev/null 2>&1") != 0) GTEST_SKIP() << "no tar command";
  const std::string out = root_ + "/v.tar";
  for (const char* flags : {"-cf", "-czf", "--format=posix -cf", "--format=ustar -czf"}) {
    SCOPED_TRACE(flags);
    // Members "1/", "1/model.onnx", ...: the top-level directory is stripped.
    std::string body = Make("tar -C " + src_ + "/m " + flags + " " + out + " 1", out);
    ASSERT_TRUE(Holds(body, "1/model.onnx:file"));
    ExpectVersion(body);
    // Members "./", "./model.onnx", ...
    body = Make("tar -C " + src_ + "/m/1 " + flags + " " + out + " .", out);
    ASSERT_TRUE(Holds(body, "./model.onnx:file"));
    ExpectVersion(body);
  }
}

TEST_F(RealToolTest, PythonTarfileBothLayouts) {
  if (std::system("/usr/bin/python3 -c 'import tarfile' >/dev/null 2>&1") != 0) GTEST_SKIP() << "no python3";
  const std::string out = root_ + "/v.tar.gz";
  for (const char* arcname : {"1", "."}) {
    SCOPED_TRACE(arcname);
    const std::string body = Make("/usr/bin/python3 -c \"import tarfile; t = tarfile.open('" + out +
                                      "', 'w:gz', format=tarfile.PAX_FORMAT); t.add('" + src_ + "/m/1', arcname='" +
                                      arcname + "'); t.close()\"",
                                  out);
    ASSERT_EQ(DetectUploadKind(body), UploadKind::kTarGz);
    ExpectVersion(body);
  }
}

// --- refused names and member types ------------------------------------------------------------------------

TEST_F(UnpackVersionTest, RefusesParentTraversal) {
  for (const char* name : {"../evil", "a/../../evil", "a/..", ".."}) {
    SCOPED_TRACE(name);
    ResetDest();
    const std::string body = MakeTar({File("model.onnx"), Dir("a"), File(name, "pwned")});
    ASSERT_TRUE(Holds(body, std::string(name) + ":file"));
    ExpectRefused(body, "has a \"..\" component");
    ExpectRefused(body, std::string("archive member \"") + name + "\"");
  }
}

TEST_F(UnpackVersionTest, RefusesAbsolutePath) {
  const std::string evil = root_ + "/evil";  // lands beside the destination if written
  const std::string body = MakeTar({File("model.onnx"), File(evil, "pwned")});
  ASSERT_TRUE(Holds(body, evil + ":file"));
  ExpectRefused(body, "\"" + evil + "\" has an absolute path");
}

TEST_F(UnpackVersionTest, RefusesDotNamesBackslashesAndEmptyComponents) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {".hidden", "starting with '.'"},
      {"a/.git/config", "starting with '.'"},
      {"a/./b", "starting with '.'"},
      {"./.", "starting with '.'"},
      {"..\\evil", "backslash"},
      {"a\\b", "backslash"},
      {"a//b", "empty path component"},
      {"", "empty name"},
      {std::string(256, 'n'), "longer than 255 bytes"},
      {std::string(600, 'n') + "/" + std::string(600, 'n'), "longer than 1024 bytes"},
  };
  for (const auto& [name, why] : cases) {
    SCOPED_TRACE(name);
    ResetDest();
    const std::string body = MakeTar({File("model.onnx"), File(name, "pwned")});
    ASSERT_TRUE(Holds(body, name + ":file"));
    ExpectRefused(body, why);
  }
}

TEST_F(UnpackVersionTest, RefusesSymlinks) {
  // A link to the parent, then a file written through it: the classic escape.
  std::string body = MakeTar({File("model.onnx"), Symlink("link", root_), File("link/evil", "pwned")});
  ASSERT_TRUE(Holds(body, "link:symlink"));
  ExpectRefused(body, "archive member \"link\" is a symbolic link");
  ResetDest();
  body = MakeTar({Symlink("model.onnx", "/etc/passwd")}, /*gzip=*/true);
  ASSERT_TRUE(Holds(body, "model.onnx:symlink"));
  ExpectRefused(body, "archive member \"model.onnx\" is a symbolic link");
}

TEST_F(UnpackVersionTest, RefusesHardlinks) {
  // A hard link to a file outside, then a write through it.
  const std::string victim = root_ + "/victim";
  std::ofstream(victim) << "original";
  const std::string body = MakeTar({File("model.onnx"), Hardlink("h", victim), File("h", "pwned")});
  ASSERT_TRUE(Holds(body, "h:hardlink"));
  ExpectRefused(body, "archive member \"h\" is a hard link", {}, true, {"victim"});
  EXPECT_EQ(ReadAll(victim), "original");
}

TEST_F(UnpackVersionTest, RefusesDevicesAndFifos) {
  for (Type type : {Type::kFifo, Type::kCharDevice}) {
    ResetDest();
    const std::string body = MakeTar({File("model.onnx"), Special("special", type)});
    ASSERT_TRUE(Holds(body, type == Type::kFifo ? "special:fifo" : "special:chardev"));
    ExpectRefused(body, type == Type::kFifo ? "\"special\" is a FIFO" : "\"special\" is a character device");
  }
}

TEST_F(UnpackVersionTest, RefusesDuplicates) {
  std::string body = MakeTar({File("model.onnx", "one"), File("model.onnx", "two")});
  ASSERT_EQ(ListArchive(body), (std::vector<std::string>{"model.onnx:file", "model.onnx:file"}));
  ExpectRefused(body, "archive member \"model.onnx\" appears more than once");
  ResetDest();
  body = MakeTar({File("model.onnx", "one"), File("./model.onnx", "two")});
  ASSERT_TRUE(Holds(body, "./model.onnx:file"));
  ExpectRefused(body, "archive member \"model.onnx\" appears more than once");
}

TEST_F(UnpackVersionTest, RefusesFileThatIsAlsoADirectory) {
  const std::string body = MakeTar({File("model.onnx"), File("a", "file"), File("a/b", "inner")});
  ASSERT_TRUE(Holds(body, "a:file"));
  ExpectRefused(body, "archive member \"a\" is both a file and a directory");
}

// --- missing model.onnx --------------------------------------------------------------------------------------

TEST_F(UnpackVersionTest, RefusesArchivesWithoutModel) {
  const std::vector<std::vector<Entry>> cases = {
      {File("weights.bin")},
      {File("1/model.onnx"), File("2/x")},  // two top-level directories: nothing is stripped
      {File("1/2/model.onnx")},             // only one level is stripped
      {File("1/model.onnx"), File("x")},
      {Dir("model.onnx"), File("model.onnx/x")},
      {},
  };
  for (const auto& entries : cases) {
    ResetDest();
    const std::string body = MakeTar(entries, /*gzip=*/true);
    ASSERT_EQ(ListArchive(body).size(), entries.size());
    ExpectRefused(body, "the archive has no model.onnx");
  }
}

// --- limits ------------------------------------------------------------------------------------------------

TEST_F(UnpackVersionTest, RefusesTooManyFiles) {
  UnpackLimits limits;
  limits.max_files = 3;
  std::string body = MakeTar({File("model.onnx"), File("a"), File("b"), File("c")});
  ExpectRefused(body, "more than 3 files and directories", limits);
  ResetDest();
  // Implied directories count: model.onnx, x, x/y and x/y/z are four.
  body = MakeTar({File("model.onnx"), File("x/y/z")});
  ExpectRefused(body, "more than 3 files and directories", limits);
  ResetDest();
  // Far more headers than the limit stop the first pass early.
  std::vector<Entry> many = {File("model.onnx")};
  for (int i = 0; i < 100; ++i) many.push_back(File("f" + std::to_string(i)));
  ExpectRefused(MakeTar(many), "more than 3 files and directories", limits);
}

TEST_F(UnpackVersionTest, RefusesTooManyBytes) {
  UnpackLimits limits;
  limits.max_total_bytes = 1000;
  std::string body = MakeTar({File("model.onnx", std::string(2000, 'm'))}, /*gzip=*/true);
  ExpectRefused(body, "the archive expands to more than 1000 bytes (max_total_bytes), at member \"model.onnx\"",
                limits);
  ResetDest();
  body = MakeTar({File("model.onnx", std::string(600, 'm')), File("w", std::string(401, 'w'))});
  ExpectRefused(body, "more than 1000 bytes", limits);
}

// The repository quota (quota_bytes) is counted like max_total_bytes, but crossing it is ResourceExhausted (the
// upload is fine; the repository is full), and a compressed bomb is stopped before anything is written.
TEST_F(UnpackVersionTest, QuotaIsResourceExhaustedAndStopsEarly) {
  UnpackLimits limits;
  limits.quota_bytes = 1000;  // max_total_bytes stays 1 GiB: the quota is the smaller bound
  limits.max_files = 10;      // so the inflated tar may hold 1000 + 64 KiB + 12 x 16 KiB bytes
  auto expect_quota = [&](const std::string& body, const std::string& message_part) {
    Status s = UnpackVersion(body, dest_, limits);
    EXPECT_EQ(s.code(), StatusCode::kResourceExhausted) << s.ToString();
    EXPECT_NE(s.message().find(message_part), std::string::npos) << s.message();
    EXPECT_TRUE(Tree().empty());
    EXPECT_EQ(RootNames(), (std::set<std::string>{"stage"}));
    ResetDest();
  };
  SCOPED_TRACE("raw model.onnx");
  expect_quota(std::string(1001, 'm'),
               "more than the 1000 bytes the repository quota leaves, at member \"model.onnx\"");
  SCOPED_TRACE("declared sizes 600 + 401");
  expect_quota(MakeTar({File("model.onnx", std::string(600, 'm')), File("w", std::string(401, 'w'))}),
               "more than the 1000 bytes the repository quota leaves, at member \"w\"");
  // 64 MiB of zeros compress to about 64 KiB: refused while inflating (past 263144 bytes), before a byte is
  // written.
  SCOPED_TRACE("gzip bomb");
  const std::string bomb = MakeTar({File("model.onnx", std::string(64 << 20, '\0'))}, /*gzip=*/true);
  ASSERT_LT(bomb.size(), 1u << 20);
  expect_quota(bomb,
               "the archive decompresses to more than 263144 bytes, more than the 1000 bytes the repository quota "
               "leaves can hold");
  // Inclusive: exactly what the quota leaves fits.
  ASSERT_TRUE(UnpackVersion(MakeTar({File("model.onnx", std::string(600, 'm')), File("w", std::string(400, 'w'))}),
                            dest_, limits)
                  .ok());
  // Where max_total_bytes is the smaller bound, it is still the caller's error (InvalidArgument).
  ResetDest();
  limits.max_total_bytes = 500;
  EXPECT_EQ(UnpackVersion(std::string(800, 'm'), dest_, limits).code(), StatusCode::kInvalidArgument);
}

// A pax sparse member whose header declares 10 bytes but whose sparse map puts data at 2 MiB: only the check
// made while writing can see its real size.
TEST_F(UnpackVersionTest, RefusesSparseBombWhileWriting) {
  std::string out;
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  archive_write_open2(a, &out, nullptr, AppendToString, nullptr, nullptr);
  for (const char* name : {"model.onnx", "bomb"}) {
    archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, name);
    archive_entry_set_filetype(entry, AE_IFREG);
    archive_entry_set_perm(entry, 0644);
    const bool bomb = std::string(name) == "bomb";
    archive_entry_set_size(entry, bomb ? 2097152 : 1);
    if (bomb) archive_entry_sparse_add_entry(entry, 2097148, 4);
    ASSERT_EQ(archive_write_header(a, entry), ARCHIVE_OK) << archive_error_string(a);
    const std::string data = bomb ? std::string(2097148, '\0') + "boom" : "m";
    archive_write_data(a, data.data(), data.size());
    archive_entry_free(entry);
  }
  archive_write_close(a);
  archive_write_free(a);
  const size_t at = out.find("GNU.sparse.realsize=2097152\n");
  ASSERT_NE(at, std::string::npos);
  out.replace(at + 20, 7, "0000010");  // same length, so the pax record stays valid

  // libarchive now reports a 10-byte member...
  archive* r = archive_read_new();
  archive_read_support_format_tar(r);
  archive_read_open_memory(r, out.data(), out.size());
  archive_entry* entry = nullptr;
  ASSERT_EQ(archive_read_next_header(r, &entry), ARCHIVE_OK);
  ASSERT_EQ(archive_read_next_header(r, &entry), ARCHIVE_OK);
  EXPECT_STREQ(archive_entry_pathname(entry), "bomb");
  EXPECT_EQ(archive_entry_size(entry), 10);
  archive_read_free(r);

  // ...that is refused under a 1 MiB limit only once its data is written...
  UnpackLimits limits;
  limits.max_total_bytes = 1 << 20;
  ExpectRefused(out, "more than 1048576 bytes (max_total_bytes), at member \"bomb\"", limits,
                /*dest_untouched=*/false);
  std::error_code ec;
  EXPECT_LE(fs::file_size(dest_ + "/bomb", ec), 1u << 20);
  // ...and that really expands to 2 MiB without a limit in the way.
  ResetDest();
  ASSERT_TRUE(UnpackVersion(out, dest_).ok());
  EXPECT_EQ(fs::file_size(dest_ + "/bomb"), 2097152u);
}

// --- corrupt archives and bad destinations -------------------------------------------------------------------

TEST_F(UnpackVersionTest, RefusesCorruptAndTruncatedArchives) {
  // Incompressible content, so that the compressed stream is long and cut in the middle of a member's data.
  const std::vector<Entry> entries = {File("model.onnx", Noise(100000)), File("w", "w")};
  const std::string gz = MakeTar(entries, /*gzip=*/true);
  const std::string tar = MakeTar(entries);

  const std::string truncated_gz = gz.substr(0, gz.size() / 2);
  ASSERT_EQ(DetectUploadKind(truncated_gz), UploadKind::kTarGz);
  ASSERT_GT(gz.size(), 100000u);
  SCOPED_TRACE("truncated gzip");
  ExpectRefused(truncated_gz, "cannot read the archive: ");

  ResetDest();
  std::string bad_gz = gz;
  bad_gz[gz.size() / 2] ^= 0x55;
  SCOPED_TRACE("corrupt gzip");
  // libarchive itself would extract this: it does not check the gzip CRC.
  ExpectRefused(bad_gz, "cannot read the archive: corrupt gzip data (incorrect data check)");

  ResetDest();
  SCOPED_TRACE("not gzip");
  ExpectRefused(std::string("\x1f\x8b", 2) + "not gzip at all", "cannot read the archive: ");

  ResetDest();
  const std::string truncated_tar = tar.substr(0, 50000);  // in the middle of model.onnx's data
  ASSERT_EQ(DetectUploadKind(truncated_tar), UploadKind::kTar);
  SCOPED_TRACE("truncated tar");
  ExpectRefused(truncated_tar, "cannot read the archive: ");

  ResetDest();
  std::string bad_checksum = tar;
  bad_checksum[0] = 'M';  // the first header's name: its checksum no longer matches
  SCOPED_TRACE("bad header checksum");
  ExpectRefused(bad_checksum, "cannot read the archive: ");
  ResetDest();
  ASSERT_EQ(DetectUploadKind(Gzip(bad_checksum)), UploadKind::kTarGz);
  ExpectRefused(Gzip(bad_checksum), "cannot read the archive: ");
}

TEST_F(UnpackVersionTest, ConcatenatedGzipMembersAreReadAndEachIsChecked) {
  const std::string tar = MakeTar({File("model.onnx", "m"), File("w", Noise(20000))});
  const std::string first = Gzip(tar.substr(0, 1024));
  const std::string body = first + Gzip(tar.substr(1024));
  ASSERT_TRUE(UnpackVersion(body, dest_).ok());
  EXPECT_EQ(ReadAll(dest_ + "/w"), Noise(20000));

  ResetDest();
  std::string bad = body;
  bad[first.size() + 10000] ^= 0x55;  // inside the second member's stored data
  ExpectRefused(bad, "incorrect data check");
}

TEST_F(UnpackVersionTest, RefusesGzipThatExpandsFarBeyondTheLimits) {
  UnpackLimits limits;
  limits.max_total_bytes = 1 << 20;
  limits.max_files = 10;
  const std::string tar = MakeTar({File("model.onnx")});
  ASSERT_TRUE(UnpackVersion(Gzip(tar), dest_, limits).ok());
  // 64 MiB of zeros after the end-of-archive blocks: the tar reader never asks for them, so only the bound on
  // the whole stream sees them; a tar reader skipping a directory's "data" or a pax global header would
  // decompress them the same way.
  ResetDest();
  const std::string body = Gzip(tar + std::string(64 << 20, '\0'));
  ASSERT_LT(body.size(), 1u << 20);
  ExpectRefused(body, "the archive decompresses to more than", limits);
}

TEST_F(UnpackVersionTest, RefusesGzipInsideGzip) {
  const std::string body = Gzip(MakeTar({File("model.onnx")}, /*gzip=*/true));
  ExpectRefused(body, "gzip-compressed twice");
}

TEST_F(UnpackVersionTest, DestinationMustExistAndBeEmpty) {
  const std::string body = MakeTar({File("model.onnx")});
  std::ofstream(dest_ + "/already") << "x";
  EXPECT_EQ(UnpackVersion(body, dest_).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(UnpackVersion(body, root_ + "/missing").code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(RootNames(), (std::set<std::string>{"stage"}));
}

}  // namespace
}  // namespace ferry
