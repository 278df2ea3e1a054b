#include <wsload/scenario.hpp>

#include <gtest/gtest.h>

namespace {

using nlohmann::json;
using wsload::ConfigError;
using wsload::ScenarioStep;

std::string error_of(const std::string& text) {
  try {
    wsload::parse_scenario(json::parse(text), "scenario s.json");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(Scenario, ParsesEveryKindOfStepIntoItsValue) {
  const auto scenario = wsload::parse_scenario(json::parse(R"({"name": "chat", "steps": [
    {"on": "/type==ping", "reply": "{\"type\":\"pong\"}"},
    {"send": "hello"},
    {"receive": "/type==ack"},
    {"capture": "id", "pointer": "/id"},
    {"request": "ask", "send": "{\"id\":{{id}}}", "until": "regex:done"},
    {"check": "two", "rule": "/x", "count": 2, "mode": "fail_step"},
    {"think": [0.1, 0.2]},
    {"repeat": "prompts", "steps": [{"send": "{{prompt}}"}]},
    {"repeat": 3, "steps": [{"think": 0.5}]}]})"),
                                               "scenario s.json");
  EXPECT_EQ(scenario.name, "chat");
  ASSERT_EQ(scenario.steps.size(), 9u);
  EXPECT_EQ(scenario.steps[0].kind, ScenarioStep::Kind::on);
  EXPECT_EQ(scenario.steps[4].kind, ScenarioStep::Kind::request);
  EXPECT_EQ(scenario.steps[4].name, "ask");
  EXPECT_EQ(scenario.steps[5].count, 2u);
  EXPECT_EQ(scenario.steps[5].mode, wsload::CheckMode::fail_step);
  EXPECT_EQ(scenario.steps[6].think_max, std::chrono::milliseconds(200));
  EXPECT_TRUE(scenario.steps[7].over_prompts);
  EXPECT_EQ(scenario.steps[8].times, 3u);
}

TEST(Scenario, ErrorsNameTheStepAndTheProblem) {
  EXPECT_NE(error_of(R"({"steps": [{"send": "x"}, {"request": "login", "send": "{}"}]})")
                .find("scenario s.json: steps[1] (request 'login'): needs \"until\""),
            std::string::npos);
  EXPECT_NE(error_of(R"({"steps": [{"repeat": 2, "steps": [{"send": "{{id}}"}]}]})")
                .find("steps[0] steps[0] send: uses a variable no earlier step captures"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"steps": [{"check": "c", "rule": "/a", "mode": "loud"}]})")
                .find("(check 'c') mode: must be"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"steps": []})").find("must be a non-empty array"), std::string::npos);
  EXPECT_NE(error_of(R"([1])").find("must be a JSON object"), std::string::npos);
}

// Steps nest (repeat in repeat) at most wsload::max_scenario_depth levels: a deeper scenario
// is bad input naming the repeat that goes too deep, and no recursion runs deeper.
TEST(Scenario, StepsNestedDeeperThanTheLimitAreRefusedNamingTheRepeat) {
  const auto nested = [](std::size_t levels) {
    json steps = json::array({{{"send", "x"}}});
    for (std::size_t i = 1; i < levels; ++i) {
      steps = json::array({{{"repeat", 2}, {"steps", steps}}});
    }
    return json{{"steps", steps}};
  };
  EXPECT_EQ(error_of(nested(wsload::max_scenario_depth).dump()), "");
  std::string path = "scenario s.json: steps";
  for (std::size_t i = 1; i < wsload::max_scenario_depth; ++i) path += "[0] steps";
  EXPECT_NE(error_of(nested(wsload::max_scenario_depth + 1).dump())
                .find(path + "[0] repeat: nests steps deeper than 32 levels"),
            std::string::npos)
      << error_of(nested(wsload::max_scenario_depth + 1).dump());
}

// A loop that can never send, receive or think would never end by itself (nor let its
// thread's event loop run): refused, naming the loop.
TEST(Scenario, ALoopThatNeverAwaitsIsRefused) {
  EXPECT_NE(error_of(R"({"steps": [{"send": "x"}, {"repeat": 5, "steps": [
                {"check": "c", "rule": "/a"}, {"capture": "v", "pointer": "/v"},
                {"on": "/ping", "reply": "pong"}]}]})")
                .find("scenario s.json: steps[1] repeat: has no step that sends, receives or "
                      "thinks"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"steps": [{"repeat": 5, "steps": [{"send": "x"},
                {"repeat": 2, "steps": [{"check": "d", "rule": "/b"}]}]}]})")
                .find("steps[0] steps[1] repeat: has no step that sends"),
            std::string::npos);
  // An awaiting step anywhere inside the loop, nested repeats included, is enough.
  EXPECT_EQ(error_of(R"({"steps": [{"repeat": 5, "steps": [{"check": "c", "rule": "/a"},
                {"repeat": 2, "steps": [{"think": 0}]}]}]})"),
            "");
}

}  // namespace
