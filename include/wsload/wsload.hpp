// wsload: WebSocket load tests as C++ test cases. Umbrella header for core + network.
#pragma once

#include <wsload/config.hpp>
#include <wsload/config_sources.hpp>
#include <wsload/config_validation.hpp>
#include <wsload/engine.hpp>
#include <wsload/errors.hpp>
#include <wsload/histogram.hpp>
#include <wsload/scenario.hpp>
#include <wsload/schedule.hpp>
#include <wsload/session.hpp>
#include <wsload/render/console.hpp>
#include <wsload/results/runs.hpp>
#include <wsload/results/summary.hpp>
#include <wsload/results/summary_json.hpp>
#include <wsload/thresholds.hpp>
#include <wsload/timeseries.hpp>
#include <wsload/url.hpp>
