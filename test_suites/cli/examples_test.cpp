// The sharding examples are documents, yet their commands must work. Each manifest is
// checked for the shape its scheduler needs, then its own commands run (scaled down) as
// the pods or runners would run them, against the embedded server, and are merged.
#include <filesystem>
#include <future>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <wsload/merge.hpp>
#include <wsload/testing/server.hpp>

#include "../support/process.hpp"
#include "../support/scratch.hpp"

namespace {

using namespace std::chrono_literals;
using wsload::test::run_process;
namespace fs = std::filesystem;

const fs::path examples_dir = WSLOAD_EXAMPLES_DIR;

YAML::Node only(const std::vector<YAML::Node>& documents, const std::string& kind) {
  YAML::Node found;
  int count = 0;
  for (const auto& d : documents) {
    if (d["kind"] && d["kind"].as<std::string>() == kind) {
      found = d;
      ++count;
    }
  }
  EXPECT_EQ(count, 1) << "one " << kind << " expected";
  return found;
}

/// Replaces every `from` in `text` with `to`.
std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

/// Sets `--flag=value` or `--flag value` in `args` to `value`; fails when it is absent, so
/// the examples and this test cannot drift apart unnoticed.
void scale(std::vector<std::string>& args, const std::string& flag, const std::string& value) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i].rfind(flag + "=", 0) == 0) {
      args[i] = flag + "=" + value;
      return;
    }
    if (args[i] == flag && i + 1 < args.size()) {
      args[i + 1] = value;
      return;
    }
  }
  ADD_FAILURE() << flag << " is not in the example's command";
}

/// The same for a command line in one string: `--flag N` becomes `--flag value`.
void scale(std::string& command, const std::string& flag, const std::string& value) {
  const std::regex number(flag + " [0-9.]+");
  if (!std::regex_search(command, number)) {
    ADD_FAILURE() << flag << " is not in the example's command";
  }
  command = std::regex_replace(command, number, flag + " " + value);
}

std::string now_plus_a_second() {
  return wsload::detail::iso8601(
      std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now() + 1s));
}

class Examples : public wsload::test::ScratchTest {};

TEST_F(Examples, KubernetesIndexedJobRunsShardsThatMerge) {
  const auto documents = YAML::LoadAllFromFile(examples_dir / "kubernetes/wsload-job.yaml");
  const auto job = only(documents, "Job");
  const auto claim = only(documents, "PersistentVolumeClaim");
  const auto prompts = only(documents, "ConfigMap");
  ASSERT_TRUE(job.IsMap() && claim.IsMap() && prompts.IsMap());
  EXPECT_EQ(job["apiVersion"].as<std::string>(), "batch/v1");
  const auto spec = job["spec"];
  EXPECT_EQ(spec["completionMode"].as<std::string>(), "Indexed");
  const auto shards = spec["completions"].as<int>();
  EXPECT_EQ(spec["parallelism"].as<int>(), shards) << "the shards run side by side";
  const auto pod = spec["template"]["spec"];
  EXPECT_EQ(pod["restartPolicy"].as<std::string>(), "Never");
  EXPECT_EQ(claim["spec"]["accessModes"][0].as<std::string>(), "ReadWriteMany");
  const auto container = pod["containers"][0];
  EXPECT_EQ(container["command"][0].as<std::string>(), "wsload");

  std::map<std::string, std::string> env;
  for (const auto& e : container["env"]) {
    if (e["value"]) env[e["name"].as<std::string>()] = e["value"].as<std::string>();
    if (e["valueFrom"]) env[e["name"].as<std::string>()] = "<secret>";
  }
  EXPECT_EQ(env["WSLOAD_SHARD_COUNT"], std::to_string(shards));
  EXPECT_EQ(env["WSLOAD_START_AT"], "__START_AT__") << "run.sh fills it in";
  EXPECT_EQ(env["WSLOAD_URL"], "<secret>");

  // Volumes as directories of the scratch area, the ConfigMap's files in theirs.
  std::map<std::string, fs::path> mounts;
  std::map<std::string, YAML::Node> volumes;
  for (const YAML::Node& v : pod["volumes"]) volumes[v["name"].as<std::string>()] = v;
  for (const auto& m : container["volumeMounts"]) {
    const auto name = m["name"].as<std::string>();
    ASSERT_TRUE(volumes.count(name)) << "mount of an undeclared volume " << name;
    const auto dir = dir_ / name;
    fs::create_directories(dir);
    mounts[m["mountPath"].as<std::string>()] = dir;
    const auto& volume = volumes[name];
    if (volume["persistentVolumeClaim"]) {
      EXPECT_EQ(volume["persistentVolumeClaim"]["claimName"].as<std::string>(),
                claim["metadata"]["name"].as<std::string>());
    }
    if (volume["configMap"]) {
      EXPECT_EQ(volume["configMap"]["name"].as<std::string>(),
                prompts["metadata"]["name"].as<std::string>());
      for (const auto& file : prompts["data"]) {
        std::ofstream(dir / file.first.as<std::string>()) << file.second.as<std::string>();
      }
    }
  }

  const wsload::testing::Server server;
  env["WSLOAD_URL"] = server.url("/prod");
  env["WSLOAD_START_AT"] = now_plus_a_second();
  std::vector<std::future<wsload::test::ProcessResult>> pods;
  for (int k = 0; k < shards; ++k) {
    auto pod_env = env;
    pod_env["JOB_COMPLETION_INDEX"] = std::to_string(k);  // set by the Job controller
    std::vector<std::string> args = {WSLOAD_CLI};
    for (const auto& a : container["args"]) {
      // $(NAME) expands from the container's environment, as the kubelet does.
      std::string arg = a.as<std::string>();
      for (const auto& [name, value] : pod_env) arg = replace_all(arg, "$(" + name + ")", value);
      for (const auto& [path, dir] : mounts) arg = replace_all(arg, path + "/", dir.string() + "/");
      args.push_back(arg);
    }
    scale(args, "--connections", "8");
    scale(args, "--rate", "80");
    scale(args, "--duration", "1");
    scale(args, "--min-rps", "1");
    auto process_env = wsload::test::clean_wsload_env();
    for (const auto& [name, value] : pod_env) process_env[name] = value;
    pods.push_back(std::async(std::launch::async,
                              [args, process_env] { return run_process(args, process_env); }));
  }
  for (auto& p : pods) {
    const auto r = p.get();
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  }

  const auto merge_job = YAML::LoadFile((examples_dir / "kubernetes/wsload-merge.yaml").string());
  const auto merge_pod = merge_job["spec"]["template"]["spec"];
  EXPECT_EQ(merge_pod["volumes"][0]["persistentVolumeClaim"]["claimName"].as<std::string>(),
            claim["metadata"]["name"].as<std::string>());
  const auto merge = merge_pod["containers"][0];
  ASSERT_EQ(merge["command"][0].as<std::string>(), "sh");
  std::string script = merge["args"][0].as<std::string>();
  ASSERT_EQ(script.rfind("wsload merge ", 0), 0u) << script;
  script = replace_all(script, "wsload merge ", std::string(WSLOAD_CLI) + " merge ");
  for (const auto& m : merge["volumeMounts"]) {
    script = replace_all(script, m["mountPath"].as<std::string>() + "/",
                         (dir_ / m["name"].as<std::string>()).string() + "/");
  }
  const auto r = run_process({"/bin/sh", "-c", script}, wsload::test::clean_wsload_env());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto merged = wsload::read_summary(dir_ / "results/merged.json");
  EXPECT_EQ(merged.total_requests, 80u) << "80/s for 1 s over all shards";
  EXPECT_EQ(merged.successful_requests, 80u);
  EXPECT_EQ(merged.config["shards"], shards);
  EXPECT_EQ(merged.verdicts.size(), 5u) << "avg, rps, success rate and the two expressions";
}

TEST_F(Examples, CiMatrixRunsAShardPerRunnerThenMerges) {
  const auto workflow = YAML::LoadFile((examples_dir / "ci-matrix/github-actions.yml").string());
  const auto jobs = workflow["jobs"];
  const auto matrix = jobs["shard"]["strategy"]["matrix"]["shard"];
  ASSERT_TRUE(matrix.IsSequence());
  const auto shards = static_cast<int>(matrix.size());
  for (int k = 0; k < shards; ++k) EXPECT_EQ(matrix[k].as<int>(), k) << "indexes from 0";
  EXPECT_EQ(jobs["shard"]["strategy"]["fail-fast"].as<bool>(), false)
      << "one failed runner must not cancel the others' parts";
  EXPECT_EQ(jobs["shard"]["needs"].as<std::string>(), "plan");
  EXPECT_EQ(jobs["merge"]["needs"].as<std::string>(), "shard");

  const auto run_step = [](const YAML::Node& job, const std::string& starts) {
    for (const auto& step : job["steps"]) {
      if (step["run"] && step["run"].as<std::string>().find(starts) != std::string::npos) {
        return step["run"].as<std::string>();
      }
    }
    ADD_FAILURE() << "no step runs " << starts;
    return std::string();
  };
  const auto shard_command = run_step(jobs["shard"], "wsload run");
  EXPECT_NE(shard_command.find("--shard ${{ matrix.shard }}/" + std::to_string(shards)),
            std::string::npos)
      << shard_command;
  const auto merge_command = run_step(jobs["merge"], "wsload merge");

  // The runners' commands, with the matrix and the plan's outputs filled in as Actions
  // would, each in the directory the artifacts are downloaded to.
  const wsload::testing::Server server;
  const std::map<std::string, std::string> expressions = {
      {"${{ needs.plan.outputs.start }}", now_plus_a_second()},
      {"build/bin/wsload", WSLOAD_CLI},
      {"examples/", examples_dir.string() + "/"}};
  std::vector<std::future<wsload::test::ProcessResult>> runners;
  for (int k = 0; k < shards; ++k) {
    std::string command = replace_all(shard_command, "${{ matrix.shard }}", std::to_string(k));
    for (const auto& [from, to] : expressions) command = replace_all(command, from, to);
    scale(command, "--connections", "8");
    scale(command, "--rate", "40");
    scale(command, "--duration", "1");
    scale(command, "--min-rps", "1");
    auto env = wsload::test::clean_wsload_env();
    env["WSLOAD_URL"] = server.url("/prod");
    const auto script = "cd '" + dir_.string() + "' && " + command;
    runners.push_back(std::async(std::launch::async, [script, env] {
      return run_process({"/bin/sh", "-c", script}, env);
    }));
  }
  for (auto& p : runners) {
    const auto r = p.get();
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  }
  std::string merge = merge_command;
  for (const auto& [from, to] : expressions) merge = replace_all(merge, from, to);
  const auto r = run_process({"/bin/sh", "-c", "cd '" + dir_.string() + "' && " + merge},
                             wsload::test::clean_wsload_env());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto merged = wsload::read_summary(dir_ / "merged.json");
  EXPECT_EQ(merged.total_requests, 40u);
  EXPECT_EQ(merged.config["shards"], shards);
}

}  // namespace
