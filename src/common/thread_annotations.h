// Clang thread-safety annotations and an annotated mutex, so `-Wthread-safety` checks lock discipline.
//
// Under GCC the macros expand to nothing and Mutex is a plain std::mutex. Clang checks them with
// -Wthread-safety (.ci/sanitize.sh builds with -Werror=thread-safety). libstdc++'s std::mutex carries no
// capability attributes, hence the thin wrapper. Thread-safe as std::mutex.
#pragma once

#include <mutex>
#include <shared_mutex>

#if defined(__clang__)
#define FERRY_THREAD_ANNOTATION_(x) __attribute__((x))
#else
#define FERRY_THREAD_ANNOTATION_(x)
#endif

#define CAPABILITY(x) FERRY_THREAD_ANNOTATION_(capability(x))
#define SCOPED_CAPABILITY FERRY_THREAD_ANNOTATION_(scoped_lockable)
#define GUARDED_BY(x) FERRY_THREAD_ANNOTATION_(guarded_by(x))
#define PT_GUARDED_BY(x) FERRY_THREAD_ANNOTATION_(pt_guarded_by(x))
#define REQUIRES(...) FERRY_THREAD_ANNOTATION_(requires_capability(__VA_ARGS__))
#define EXCLUDES(...) FERRY_THREAD_ANNOTATION_(locks_excluded(__VA_ARGS__))
#define ACQUIRE(...) FERRY_THREAD_ANNOTATION_(acquire_capability(__VA_ARGS__))
#define ACQUIRE_SHARED(...) FERRY_THREAD_ANNOTATION_(acquire_shared_capability(__VA_ARGS__))
#define RELEASE(...) FERRY_THREAD_ANNOTATION_(release_capability(__VA_ARGS__))
#define RELEASE_SHARED(...) FERRY_THREAD_ANNOTATION_(release_shared_capability(__VA_ARGS__))
#define NO_THREAD_SAFETY_ANALYSIS FERRY_THREAD_ANNOTATION_(no_thread_safety_analysis)

namespace ferry {

class CAPABILITY("mutex") Mutex {
 public:
  void lock() ACQUIRE() { mu_.lock(); }
  void unlock() RELEASE() { mu_.unlock(); }

 private:
  std::mutex mu_;
};

// Holds `mu` for its scope. Usable with std::condition_variable_any, which unlocks and relocks through it.
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~MutexLock() RELEASE() {
    if (held_) mu_.unlock();
  }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  // Lets go of `mu` inside the scope (to run a callback or a batch without it) and takes it back; the analysis
  // follows both. The destructor unlocks only when held.
  void Unlock() RELEASE() {
    held_ = false;
    mu_.unlock();
  }
  void Lock() ACQUIRE() {
    mu_.lock();
    held_ = true;
  }

  // For std::condition_variable_any::wait: the analysis cannot follow the wait's unlock/relock (it returns with
  // `mu` held again, so for the caller `mu` stays held throughout).
  void lock() NO_THREAD_SAFETY_ANALYSIS { mu_.lock(); }
  void unlock() NO_THREAD_SAFETY_ANALYSIS { mu_.unlock(); }

 private:
  Mutex& mu_;
  bool held_ = true;
};

// A reader/writer mutex (std::shared_mutex): many readers or one writer. Thread-safe as std::shared_mutex.
class CAPABILITY("mutex") SharedMutex {
 public:
  void lock() ACQUIRE() { mu_.lock(); }
  void unlock() RELEASE() { mu_.unlock(); }
  void lock_shared() ACQUIRE_SHARED() { mu_.lock_shared(); }
  void unlock_shared() RELEASE_SHARED() { mu_.unlock_shared(); }

 private:
  std::shared_mutex mu_;
};

// Holds `mu` shared (reads of what it guards) for its scope.
class SCOPED_CAPABILITY ReaderMutexLock {
 public:
  explicit ReaderMutexLock(SharedMutex& mu) ACQUIRE_SHARED(mu) : mu_(mu) { mu_.lock_shared(); }
  ~ReaderMutexLock() RELEASE() { mu_.unlock_shared(); }
  ReaderMutexLock(const ReaderMutexLock&) = delete;
  ReaderMutexLock& operator=(const ReaderMutexLock&) = delete;

 private:
  SharedMutex& mu_;
};

// Holds `mu` exclusively (writes) for its scope.
class SCOPED_CAPABILITY WriterMutexLock {
 public:
  explicit WriterMutexLock(SharedMutex& mu) ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~WriterMutexLock() RELEASE() { mu_.unlock(); }
  WriterMutexLock(const WriterMutexLock&) = delete;
  WriterMutexLock& operator=(const WriterMutexLock&) = delete;

 private:
  SharedMutex& mu_;
};

}  // namespace ferry
