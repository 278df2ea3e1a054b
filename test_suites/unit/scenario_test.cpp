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

}  // namespace
