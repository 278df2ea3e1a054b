// SIGINT, SIGTERM and SIGHUP as a call on a thread of the program's own.
#pragma once

#include <condition_variable>
#include <ctime>
#include <functional>
#include <mutex>
#include <thread>

#include <pthread.h>
#include <signal.h>

namespace wsload::cli::detail {

/// Turns SIGINT, SIGTERM and SIGHUP (the terminal or the SSH session went away) into a call
/// of the current handler, on a thread of its own. Construct it before any other thread
/// starts: threads inherit the blocked mask, so only this one sees the signals. A signal
/// ignored when wsload started (nohup) stays ignored.
class SignalWatcher {
 public:
  SignalWatcher() {
    sigemptyset(&signals_);
    for (const int signal : {SIGINT, SIGTERM, SIGHUP}) {
      // Linux queues a blocked signal even when it is ignored: leave those alone.
      struct sigaction action {};
      if (sigaction(signal, nullptr, &action) == 0 && action.sa_handler == SIG_IGN) continue;
      sigaddset(&signals_, signal);
    }
    pthread_sigmask(SIG_BLOCK, &signals_, &previous_);
    thread_ = std::thread([this] { watch(); });
  }
  ~SignalWatcher() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    thread_.join();
    pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
  }
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

  /// Calls `handler` on the next signal, or at once if one came already. Empty: none.
  void on_signal(std::function<void()> handler) {
    std::lock_guard lock(mutex_);
    handler_ = std::move(handler);
    if (handler_ && received_ != 0) handler_();
  }

  /// The signal received, 0 when none.
  int received() const {
    std::lock_guard lock(mutex_);
    return received_;
  }

  /// Blocks until a signal arrives.
  void wait() {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [this] { return received_ != 0; });
  }

 private:
  void watch() {
    for (;;) {
      {
        std::lock_guard lock(mutex_);
        if (done_) return;
      }
      // A short timeout so the destructor need not signal this thread to end it.
      const timespec poll{0, 50'000'000};
      const int signal = sigtimedwait(&signals_, nullptr, &poll);
      if (signal <= 0) continue;
      std::lock_guard lock(mutex_);
      if (received_ == 0) received_ = signal;
      if (handler_) handler_();
      cv_.notify_all();
    }
  }

  sigset_t signals_{};
  sigset_t previous_{};
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::function<void()> handler_;
  int received_ = 0;
  bool done_ = false;
  std::thread thread_;
};

}  // namespace wsload::cli::detail
