#include "main/token_command.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>

#include "auth/token_set.h"
#include "main/daemon_config.h"

namespace ferry {
namespace {

constexpr const char* kUsage =
    "usage: ferryd token create --name N --scope S[,S...] [--models P[,P...]] (--tokens-file FILE | --config FILE)\n"
    "Creates a bearer token: prints its secret once on stdout and appends its name, scopes, model patterns and\n"
    "SHA-256 to the tokens file (created with mode 0600 if missing; with --config, the file's tokens_file).\n"
    "  --scope   infer (predict/infer), read (status, metadata, statistics, config, metrics),\n"
    "            manage (uploads, deletes, config edits, load/unload), admin (everything)\n"
    "  --models  model-name patterns with '*'; default \"*\" (every model and the server-wide routes)\n"
    "Send SIGHUP to a running ferryd to load the new token.\n";

int Usage(const std::string& problem) {
  if (!problem.empty()) std::cerr << "ferryd token: " << problem << "\n";
  std::cerr << kUsage;
  return 2;
}

}  // namespace

int TokenCommand(const std::vector<std::string>& args) {
  if (args.empty()) return Usage("missing subcommand");
  if (args[0] == "-h" || args[0] == "--help") {
    std::cout << kUsage;
    return 0;
  }
  if (args[0] != "create") return Usage("unknown subcommand \"" + args[0] + "\"");
  std::map<std::string, std::string> flags;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      return 0;
    }
    if (a != "--name" && a != "--scope" && a != "--models" && a != "--tokens-file" && a != "--config") {
      return Usage("unknown argument \"" + a + "\"");
    }
    if (i + 1 >= args.size()) return Usage(a + " needs a value");
    if (!flags.emplace(a, args[++i]).second) return Usage(a + " given twice");
  }
  if (!flags.count("--name") || !flags.count("--scope")) return Usage("--name and --scope are required");
  if (flags.count("--tokens-file") == flags.count("--config")) return Usage("give one of --tokens-file, --config");
  const std::string& name = flags["--name"];
  const std::string& scopes = flags["--scope"];
  const std::string models = flags.count("--models") ? flags["--models"] : "*";
  if (Status s = auth::CheckTokenName(name); !s.ok()) return Usage(s.message());
  if (Result<unsigned> parsed = auth::ParseScopes(scopes); !parsed.ok()) return Usage(parsed.status().message());
  if (Status s = auth::CheckModelPatterns(models); !s.ok()) return Usage(s.message());

  std::string path = flags.count("--tokens-file") ? flags["--tokens-file"] : "";
  if (path.empty()) {
    // Only tokens_file is wanted here; a placeholder repository keeps a config without one resolvable.
    Result<DaemonConfig> config = ResolveDaemonConfig({"--config", flags["--config"], "--model-repository", "."});
    if (!config.ok()) return Usage(config.status().message());
    if (config->tokens_file.empty()) return Usage("the config sets no tokens_file");
    path = config->tokens_file;
  }
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    Result<auth::TokenSet> existing = auth::TokenSet::Load(path);
    if (!existing.ok()) {
      std::cerr << "ferryd token: " << existing.status().message() << "\n";
      return 1;
    }
    for (const auth::Token& t : existing->tokens()) {
      if (t.name == name) return Usage("a token named \"" + name + "\" exists already in " + path);
    }
  }
  Result<std::string> secret = auth::NewSecret();
  if (!secret.ok()) {
    std::cerr << "ferryd token: " << secret.status().message() << "\n";
    return 1;
  }
  const std::string line = auth::TokenLine(name, scopes, models, auth::HashHex(*secret)) + "\n";
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    std::cerr << "ferryd token: cannot open " << path << ": " << std::strerror(errno) << "\n";
    return 1;
  }
  const bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  if (!written) {
    std::cerr << "ferryd token: cannot write " << path << ": " << std::strerror(err) << "\n";
    return 1;
  }
  std::cout << *secret << "\n";
  std::cerr << "token \"" << name << "\" (" << scopes << " on " << models << ") added to " << path
            << "; it is shown only now. Send SIGHUP to ferryd to load it.\n";
  return 0;
}

}  // namespace ferry
