#include <wsload/render/html.hpp>
#include <wsload/render/junit.hpp>

#include <regex>

#include <gtest/gtest.h>

namespace {

using namespace wsload;

Summary streamed_run(std::int64_t base_us) {
  Summary s;
  s.name = "chat";
  s.config = {{"url", "wss://api.example.com/prod?X-Amz-Signature=REDACTED"}};
  for (int i = 0; i < 1000; ++i) {
    const auto us = base_us + (i % 100) * 100;
    s.latency.record(us);
    s.ttfb.record(us / 5);
    s.time_series.record(static_cast<std::size_t>(i / 250), us);
  }
  s.time_series.fail(2, 3);
  s.successful_requests = 1000;
  s.failed_requests = 3;
  s.total_requests = 1003;
  s.frames_received = 6000;
  s.total_time = Seconds(4);
  s.errors = {{ErrorKind::reply_timeout, "", 3}};
  s.judge({parse_threshold("p99<20ms"), parse_threshold("errors==0")});
  return s;
}

/// The data-points of every polyline of the plot with this id.
std::vector<int> points_of(const std::string& html, const std::string& id) {
  const auto start = html.find("<svg class=\"plot\" id=\"" + id + "\"");
  if (start == std::string::npos) return {};
  const auto end = html.find("</svg>", start);
  const std::string plot = html.substr(start, end - start);
  std::vector<int> points;
  const std::regex attribute("data-points=\"([0-9]+)\"");
  for (std::sregex_iterator it(plot.begin(), plot.end(), attribute), last; it != last; ++it) {
    points.push_back(std::stoi((*it)[1]));
  }
  return points;
}

TEST(HtmlReport, HasEverySectionAndPlotsWithData) {
  const auto html = html_report({{"chat", streamed_run(10'000)}});
  for (const char* section :
       {"figures", "thresholds", "spectrum", "histogram", "over-time", "first-frame"}) {
    EXPECT_NE(html.find("<section id=\"" + std::string(section) + "\">"), std::string::npos)
        << section;
  }
  for (const char* plot : {"spectrum", "histogram", "rate", "latency-over-time", "ttfb-spectrum"}) {
    const auto points = points_of(html, plot);
    ASSERT_FALSE(points.empty()) << plot;
    for (int n : points) EXPECT_GT(n, 0) << plot;
  }
  EXPECT_EQ(points_of(html, "ttfb-spectrum").size(), 2u) << "completion and first frame";
  EXPECT_NE(html.find("FAIL</b> <code>errors==0</code>"), std::string::npos);
  EXPECT_NE(html.find("3 reply_timeout"), std::string::npos);
  // Self-contained: nothing to fetch when it is opened.
  EXPECT_EQ(html.find("src="), std::string::npos);
  EXPECT_EQ(html.find("href="), std::string::npos);
  EXPECT_EQ(html.find("@import"), std::string::npos);
}

TEST(HtmlReport, OverlaysRunsAndEscapesWhatTheyAreCalled) {
  auto quiet = streamed_run(30'000);
  quiet.frames_received = quiet.successful_requests;  // single-frame replies
  const auto html =
      html_report({{"<b>base</b>", streamed_run(10'000)}, {"new & \"better\"", quiet}});
  EXPECT_EQ(html.find("<b>base</b>"), std::string::npos);
  EXPECT_NE(html.find("&lt;b&gt;base&lt;/b&gt;"), std::string::npos);
  EXPECT_NE(html.find("new &amp; &quot;better&quot;"), std::string::npos);
  EXPECT_EQ(points_of(html, "spectrum").size(), 2u) << "one line per run";
  EXPECT_EQ(points_of(html, "ttfb-spectrum").size(), 2u) << "only the streamed run's";
  EXPECT_EQ(points_of(html, "latency-over-time").size(), 6u) << "p50, p95, p99 per run";
}

TEST(HtmlReport, PlotsInterTokenLatencyAndTimePerTokenOfStreamedRuns) {
  EXPECT_EQ(html_report({{"chat", streamed_run(10'000)}}).find("<section id=\"tokens\">"),
            std::string::npos)
      << "no token figures, no section";
  auto tokens = streamed_run(10'000);
  for (int i = 0; i < 1000; ++i) {
    tokens.ttft.record(4'000 + i);
    tokens.inter_frame.record(1'000 + i);
    tokens.tpot.record(1'200 + i);
  }
  const auto html = html_report({{"chat", tokens}});
  EXPECT_NE(html.find("<section id=\"tokens\">"), std::string::npos);
  for (const char* plot : {"itl-spectrum", "tpot-spectrum"}) {
    const auto points = points_of(html, plot);
    ASSERT_EQ(points.size(), 1u) << plot;
    EXPECT_GT(points[0], 0) << plot;
  }
}

TEST(HtmlReport, GoodputAndOutputThroughputOfRunsWithSlos) {
  auto judged = streamed_run(10'000);
  judged.config["slo"] = "ttft<500ms";
  judged.total_requests = 1000;
  judged.good_requests = 250;
  judged.total_time = Seconds(10);
  judged.output_tokens = 5000;
  const auto html = html_report({{"judged", judged}, {"plain", streamed_run(10'000)}});
  const auto at = html.find("<section id=\"tokens\">");
  ASSERT_NE(at, std::string::npos) << "SLOs alone show it";
  const auto section = html.substr(at, html.find("</section>", at) - at);
  EXPECT_NE(section.find("<td>25 req/s (25 %)</td>"), std::string::npos) << "250 good in 10 s";
  EXPECT_NE(section.find("<td>500</td>"), std::string::npos) << "5000 tokens in 10 s";
  EXPECT_NE(section.find("<td>judged</td>"), std::string::npos);
  EXPECT_EQ(section.find("<td>plain</td>"), std::string::npos) << "neither streamed nor judged";
}

TEST(HtmlReport, ARunWithoutSuccessSaysSo) {
  Summary none;
  none.total_requests = none.failed_requests = 5;
  none.errors = {{ErrorKind::connect, "refused", 5}};
  const auto html = html_report({{"down", none}});
  EXPECT_NE(html.find("No request succeeded"), std::string::npos);
  EXPECT_NE(html.find("No streamed replies"), std::string::npos);
}

TEST(JUnit, EachThresholdIsACaseAndAFailureSaysWhy) {
  auto interrupted = streamed_run(10'000);
  interrupted.interrupted = true;
  const auto xml = junit_xml({{"chat", streamed_run(10'000)}, {"cut <short>", interrupted}});
  EXPECT_EQ(xml.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites ", 0), 0u);
  EXPECT_NE(xml.find("<testsuites name=\"wsload\" tests=\"5\" failures=\"2\" errors=\"1\""),
            std::string::npos)
      << xml;
  EXPECT_NE(xml.find("<testcase classname=\"wsload.chat\" name=\"p99&lt;20ms\""),
            std::string::npos);
  EXPECT_NE(
      xml.find("<failure message=\"failed requests 3, expected 0\" type=\"threshold\">errors==0: "),
      std::string::npos)
      << xml;
  EXPECT_NE(xml.find("name=\"cut &lt;short&gt;\""), std::string::npos);
  EXPECT_NE(xml.find("name=\"run completed\""), std::string::npos);
  EXPECT_NE(xml.find("<error message=\"the run was interrupted\" type=\"interrupted\">"),
            std::string::npos);
  const auto shard = [] {
    Summary s;
    s.shard = Shard{1, 2};
    return s;
  }();
  EXPECT_NE(junit_xml({{"part", shard}}).find("<skipped message=\"a shard judges no threshold"),
            std::string::npos);
}

// GoogleTest cases: one that crashed after its load, one that failed on an assertion no
// verdict records. Neither may read as passed.
TEST(JUnit, ACaseThatFailedBesidesItsVerdictsFails) {
  auto met = streamed_run(1'000);
  met.judge({parse_threshold("p99<20ms")});
  RunRecord crashed{"Chat.Crashed", met};
  crashed.status = "running";
  RunRecord plain{"Chat.Plain", met};
  plain.status = "failed";
  RunRecord listed{"Chat.Listed", met};
  listed.status = "failed";
  listed.failures = {{"chat_test.cpp:12", "Expected equality <of> these values"}};
  const auto xml = junit_xml({crashed, plain, listed});
  EXPECT_NE(xml.find("<testsuites name=\"wsload\" tests=\"6\" failures=\"2\" errors=\"1\""),
            std::string::npos)
      << xml;
  EXPECT_NE(xml.find("type=\"crashed\">the test case did not finish"), std::string::npos);
  EXPECT_NE(xml.find("name=\"test case\""), std::string::npos);
  EXPECT_NE(xml.find("name=\"failure at chat_test.cpp:12\""), std::string::npos);
  EXPECT_NE(xml.find("chat_test.cpp:12: Expected equality &lt;of&gt; these values"),
            std::string::npos);

  const auto html = html_report({crashed, plain, listed});
  EXPECT_EQ(html.find("class=\"pass\">PASS"), std::string::npos) << "no case reads as passed";
  EXPECT_NE(html.find("did not finish"), std::string::npos);
  EXPECT_NE(html.find("FAIL (the case)"), std::string::npos);
  EXPECT_NE(html.find("Expected equality &lt;of&gt; these values"), std::string::npos);
}

}  // namespace
