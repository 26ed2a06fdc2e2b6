#pragma once

// Deadlines as intrusive lists: each list holds the entries whose deadline
// is "when set, now + the same span", so appending keeps it in order and the
// head is always the next to expire. O(1) to set, move and cancel; no heap.

#include <chrono>
#include <cstddef>

namespace devops::serve {

struct TimerList;

// Derive from it to sit in a TimerList.
struct TimerNode {
  TimerList* list{nullptr};
  TimerNode* prev{nullptr};
  TimerNode* next{nullptr};
  std::chrono::steady_clock::time_point deadline{};
};

struct TimerList {
  TimerNode* head{nullptr};
  TimerNode* tail{nullptr};
  std::size_t size{0};
};

// Takes `n` out of its list, if it is in one.
inline void unlink(TimerNode* n) {
  if (n->list == nullptr) return;
  auto& l = *n->list;
  (n->prev != nullptr ? n->prev->next : l.head) = n->next;
  (n->next != nullptr ? n->next->prev : l.tail) = n->prev;
  --l.size;
  n->prev = n->next = nullptr;
  n->list = nullptr;
}

// Moves `n` to the end of `l` with `deadline`.
inline void append(TimerList& l, TimerNode* n, std::chrono::steady_clock::time_point deadline) {
  unlink(n);
  n->deadline = deadline;
  n->list = &l;
  n->prev = l.tail;
  (l.tail != nullptr ? l.tail->next : l.head) = n;
  l.tail = n;
  ++l.size;
}

}  // namespace devops::serve
