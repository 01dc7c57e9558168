#include "metrics/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <utility>

namespace ferry::metrics {
namespace {

// Largest magnitude below which every integer is exact in a double: such values print as plain integers
// ("1000000", not the "1e+06" that shortest round-trip formatting prefers).
constexpr double kMaxExactInteger = 9007199254740992.0;  // 2^53

// Appends `v` as Go's ParseFloat reads it: NaN, +Inf, -Inf, integers without exponent, otherwise the shortest
// string that round-trips.
void AppendValue(double v, std::string* out) {
  if (std::isnan(v)) {
    out->append("NaN");
    return;
  }
  if (std::isinf(v)) {
    out->append(v > 0 ? "+Inf" : "-Inf");
    return;
  }
  char buf[64];
  std::to_chars_result r;
  if (v == std::trunc(v) && std::fabs(v) < kMaxExactInteger) {
    r = std::to_chars(buf, buf + sizeof(buf), static_cast<int64_t>(v));
  } else {
    r = std::to_chars(buf, buf + sizeof(buf), v);
  }
  out->append(buf, r.ptr);
}

void AppendUint(uint64_t v, std::string* out) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, r.ptr);
}

// Label values escape backslash, double quote and line feed; HELP text escapes only backslash and line feed.
void AppendEscaped(std::string_view s, bool escape_quote, std::string* out) {
  for (char c : s) {
    switch (c) {
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '"':
        if (escape_quote) {
          out->append("\\\"");
        } else {
          out->push_back(c);
        }
        break;
      default:
        out->push_back(c);
    }
  }
}

std::string LabelsText(const std::vector<std::string>& names, const std::vector<std::string>& values) {
  std::string text;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) text.push_back(',');
    text.append(names[i]);
    text.append("=\"");
    AppendEscaped(values[i], /*escape_quote=*/true, &text);
    text.push_back('"');
  }
  return text;
}

void AppendHeader(const std::string& name, const std::string& help, MetricType type, std::string* out) {
  out->append("# HELP ");
  out->append(name);
  out->push_back(' ');
  AppendEscaped(help, /*escape_quote=*/false, out);
  out->append("\n# TYPE ");
  out->append(name);
  out->push_back(' ');
  out->append(MetricTypeName(type));
  out->push_back('\n');
}

// `name{labels} value\n`, or `name value\n` without labels. `extra_label` (already rendered, e.g. `le="0.5"`)
// goes after the others.
void AppendSample(std::string_view name, std::string_view suffix, const std::string& labels,
                  std::string_view extra_label, std::string_view value, std::string* out) {
  out->append(name);
  out->append(suffix);
  if (!labels.empty() || !extra_label.empty()) {
    out->push_back('{');
    out->append(labels);
    if (!labels.empty() && !extra_label.empty()) out->push_back(',');
    out->append(extra_label);
    out->push_back('}');
  }
  out->push_back(' ');
  out->append(value);
  out->push_back('\n');
}

std::string ValueText(double v) {
  std::string s;
  AppendValue(v, &s);
  return s;
}

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t len;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong encodings, UTF-16 surrogates and code points past U+10FFFF are not UTF-8.
    static constexpr uint32_t kMinForLen[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMinForLen[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

Status CheckLabelValues(const std::string& family, const std::vector<std::string>& names,
                        const std::vector<std::string>& values) {
  if (values.size() != names.size()) {
    return InvalidArgument("metric {}: {} label values given for {} label names", family, values.size(), names.size());
  }
  for (size_t i = 0; i < values.size(); ++i) {
    if (!IsValidUtf8(values[i])) return InvalidArgument("metric {}: label {} value is not UTF-8", family, names[i]);
  }
  return Status::Ok();
}

bool IsMetricName(const std::string& s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

bool IsLabelName(const std::string& s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

double RoundTo15Digits(double v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::general, 15);
  double out = v;
  std::from_chars(buf, r.ptr, out);
  return out;
}

}  // namespace

const char* MetricTypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
    case MetricType::kUntyped:
      return "untyped";
  }
  return "untyped";
}

// --- Histogram -------------------------------------------------------------------------------------------------

Histogram::Histogram(std::vector<double> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)), counts_(new std::atomic<uint64_t>[upper_bounds_.size() + 1]) {
  for (size_t i = 0; i <= upper_bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double v) {
  if (std::isnan(v)) return;
  const size_t bucket = std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), v) - upper_bounds_.begin();
  counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.cumulative_counts.resize(upper_bounds_.size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i <= upper_bounds_.size(); ++i) {
    total += counts_[i].load(std::memory_order_relaxed);
    s.cumulative_counts[i] = total;
  }
  s.count = total;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

// --- Family ----------------------------------------------------------------------------------------------------

template <typename T>
Family<T>::Family(std::string name, std::string help, std::vector<std::string> label_names,
                  std::vector<double> upper_bounds)
    : name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      upper_bounds_(std::move(upper_bounds)) {
  // A family without labels exports its single series (at zero) from the start, as client libraries do.
  if (label_names_.empty()) children_.emplace(std::vector<std::string>{}, Child{"", NewMetric()});
}

template <typename T>
std::shared_ptr<T> Family<T>::NewMetric() const {
  if constexpr (std::is_same_v<T, Histogram>) {
    return std::make_shared<Histogram>(upper_bounds_);
  } else {
    return std::make_shared<T>();
  }
}

template <typename T>
Result<std::shared_ptr<T>> Family<T>::WithLabels(const std::vector<std::string>& label_values) {
  {
    ReaderMutexLock lock(mu_);
    auto it = children_.find(label_values);
    if (it != children_.end()) return it->second.metric;
  }
  FERRY_RETURN_IF_ERROR(CheckLabelValues(name_, label_names_, label_values));
  WriterMutexLock lock(mu_);
  // Another thread may have created it between the two locks; emplace keeps the first.
  auto [it, inserted] = children_.try_emplace(label_values);
  if (inserted) it->second = Child{LabelsText(label_names_, label_values), NewMetric()};
  return it->second.metric;
}

template <typename T>
bool Family<T>::Remove(const std::vector<std::string>& label_values) {
  WriterMutexLock lock(mu_);
  return children_.erase(label_values) > 0;
}

template <typename T>
size_t Family<T>::RemovePrefix(const std::vector<std::string>& prefix) {
  WriterMutexLock lock(mu_);
  if (prefix.size() > label_names_.size()) return 0;
  size_t removed = 0;
  for (auto it = children_.begin(); it != children_.end();) {
    if (std::equal(prefix.begin(), prefix.end(), it->first.begin())) {
      it = children_.erase(it);
      ++removed;
    } else {
      ++it;
    }
  }
  return removed;
}

template <typename T>
size_t Family<T>::RemoveMatching(const std::map<std::string, std::string>& match) {
  std::vector<std::pair<size_t, std::string>> positions;  // label index -> required value
  for (const auto& [name, value] : match) {
    auto it = std::find(label_names_.begin(), label_names_.end(), name);
    if (it == label_names_.end()) return 0;
    positions.emplace_back(static_cast<size_t>(it - label_names_.begin()), value);
  }
  WriterMutexLock lock(mu_);
  size_t removed = 0;
  for (auto it = children_.begin(); it != children_.end();) {
    const bool matches =
        std::all_of(positions.begin(), positions.end(), [&](const auto& p) { return it->first[p.first] == p.second; });
    if (matches) {
      it = children_.erase(it);
      ++removed;
    } else {
      ++it;
    }
  }
  return removed;
}

template <typename T>
size_t Family<T>::size() const {
  ReaderMutexLock lock(mu_);
  return children_.size();
}

template <typename T>
void Family<T>::Render(std::string* out) const {
  ReaderMutexLock lock(mu_);
  if (children_.empty()) return;
  if constexpr (std::is_same_v<T, Counter>) {
    AppendHeader(name_, help_, MetricType::kCounter, out);
    for (const auto& [values, child] : children_) {
      AppendSample(name_, "", child.labels_text, "", ValueText(child.metric->value()), out);
    }
  } else if constexpr (std::is_same_v<T, Gauge>) {
    AppendHeader(name_, help_, MetricType::kGauge, out);
    for (const auto& [values, child] : children_) {
      AppendSample(name_, "", child.labels_text, "", ValueText(child.metric->value()), out);
    }
  } else {
    AppendHeader(name_, help_, MetricType::kHistogram, out);
    // The le="..." labels are the same for every child: render them once.
    std::vector<std::string> le(upper_bounds_.size() + 1);
    for (size_t i = 0; i < upper_bounds_.size(); ++i) le[i] = "le=\"" + ValueText(upper_bounds_[i]) + "\"";
    le.back() = "le=\"+Inf\"";
    std::string count_text;
    for (const auto& [values, child] : children_) {
      const Histogram::Snapshot s = child.metric->snapshot();
      for (size_t i = 0; i < le.size(); ++i) {
        count_text.clear();
        AppendUint(s.cumulative_counts[i], &count_text);
        AppendSample(name_, "_bucket", child.labels_text, le[i], count_text, out);
      }
      AppendSample(name_, "_sum", child.labels_text, "", ValueText(s.sum), out);
      count_text.clear();
      AppendUint(s.count, &count_text);
      AppendSample(name_, "_count", child.labels_text, "", count_text, out);
    }
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

// --- Collectors ------------------------------------------------------------------------------------------------

void CollectorSink::Add(size_t family, std::vector<std::string> label_values, double value) {
  if (family >= samples_.size()) return;
  samples_[family].push_back(Sample{std::move(label_values), value});
}

class CollectorSection final : public internal::Section {
 public:
  CollectorSection(std::vector<FamilyDesc> families, CollectFn collect)
      : families_(std::move(families)), collect_(std::move(collect)) {}

  void Render(std::string* out) const override {
    CollectorSink sink(families_.size());
    collect_(sink);
    for (size_t f = 0; f < families_.size(); ++f) {
      const FamilyDesc& desc = families_[f];
      bool header_written = false;
      for (const CollectorSink::Sample& sample : sink.samples_[f]) {
        if (!CheckLabelValues(desc.name, desc.label_names, sample.label_values).ok()) continue;
        if (!header_written) {
          AppendHeader(desc.name, desc.help, desc.type, out);
          header_written = true;
        }
        AppendSample(desc.name, "", LabelsText(desc.label_names, sample.label_values), "", ValueText(sample.value),
                     out);
      }
    }
  }

 private:
  const std::vector<FamilyDesc> families_;
  const CollectFn collect_;
};

// --- Registry --------------------------------------------------------------------------------------------------

Registry::Registry() = default;
Registry::~Registry() = default;

Status Registry::Reserve(const std::string& name, const std::string& help, MetricType type,
                         const std::vector<std::string>& label_names, std::set<std::string>* reserved) const {
  if (!IsMetricName(name)) {
    return InvalidArgument("metric name \"{}\" is not valid (must match [a-zA-Z_:][a-zA-Z0-9_:]*)", name);
  }
  if (!IsValidUtf8(help)) return InvalidArgument("metric {}: help text is not UTF-8", name);
  std::set<std::string> seen;
  for (const std::string& label : label_names) {
    if (!IsLabelName(label)) {
      return InvalidArgument("metric {}: label name \"{}\" is not valid (must match [a-zA-Z_][a-zA-Z0-9_]*)", name,
                             label);
    }
    if (label.starts_with("__")) {
      return InvalidArgument("metric {}: label name \"{}\" is reserved (starts with __)", name, label);
    }
    if (type == MetricType::kHistogram && label == "le") {
      return InvalidArgument("metric {}: label name \"le\" is reserved for histogram buckets", name);
    }
    if (!seen.insert(label).second) return InvalidArgument("metric {}: label name \"{}\" repeats", name, label);
  }
  std::vector<std::string> series = {name};
  if (type == MetricType::kHistogram) {
    series.push_back(name + "_bucket");
    series.push_back(name + "_sum");
    series.push_back(name + "_count");
  }
  for (const std::string& s : series) {
    if (series_names_.count(s) > 0 || reserved->count(s) > 0) {
      return Status(StatusCode::kAlreadyExists,
                    fmt::format("metric {}: series name {} is already registered", name, s));
    }
  }
  reserved->insert(series.begin(), series.end());
  return Status::Ok();
}

template <typename S>
S* Registry::Adopt(std::unique_ptr<S> section, std::set<std::string>* reserved) {
  S* raw = section.get();
  sections_.push_back(std::move(section));
  series_names_.merge(*reserved);
  return raw;
}

Result<CounterFamily*> Registry::AddCounter(std::string name, std::string help, std::vector<std::string> label_names) {
  MutexLock lock(mu_);
  std::set<std::string> reserved;
  FERRY_RETURN_IF_ERROR(Reserve(name, help, MetricType::kCounter, label_names, &reserved));
  std::unique_ptr<CounterFamily> family(
      new CounterFamily(std::move(name), std::move(help), std::move(label_names), {}));
  return Adopt(std::move(family), &reserved);
}

Result<GaugeFamily*> Registry::AddGauge(std::string name, std::string help, std::vector<std::string> label_names) {
  MutexLock lock(mu_);
  std::set<std::string> reserved;
  FERRY_RETURN_IF_ERROR(Reserve(name, help, MetricType::kGauge, label_names, &reserved));
  std::unique_ptr<GaugeFamily> family(new GaugeFamily(std::move(name), std::move(help), std::move(label_names), {}));
  return Adopt(std::move(family), &reserved);
}

Result<HistogramFamily*> Registry::AddHistogram(std::string name, std::string help,
                                                std::vector<std::string> label_names, std::vector<double> buckets) {
  if (!buckets.empty() && buckets.back() == std::numeric_limits<double>::infinity()) buckets.pop_back();
  if (buckets.empty()) return InvalidArgument("histogram {}: needs at least one finite bucket bound", name);
  for (size_t i = 0; i < buckets.size(); ++i) {
    if (!std::isfinite(buckets[i])) return InvalidArgument("histogram {}: bucket bound {} is not finite", name, i);
    if (i > 0 && !(buckets[i - 1] < buckets[i])) {
      return InvalidArgument("histogram {}: bucket bounds must be strictly ascending ({} then {})", name,
                             buckets[i - 1], buckets[i]);
    }
  }
  MutexLock lock(mu_);
  std::set<std::string> reserved;
  FERRY_RETURN_IF_ERROR(Reserve(name, help, MetricType::kHistogram, label_names, &reserved));
  std::unique_ptr<HistogramFamily> family(
      new HistogramFamily(std::move(name), std::move(help), std::move(label_names), std::move(buckets)));
  return Adopt(std::move(family), &reserved);
}

Status Registry::AddCollector(std::vector<FamilyDesc> families, CollectFn collect) {
  if (!collect) return InvalidArgument("collector has no collect function");
  MutexLock lock(mu_);
  std::set<std::string> reserved;
  for (const FamilyDesc& desc : families) {
    if (desc.type == MetricType::kHistogram) {
      return InvalidArgument("metric {}: collectors export counters, gauges or untyped values only", desc.name);
    }
    FERRY_RETURN_IF_ERROR(Reserve(desc.name, desc.help, desc.type, desc.label_names, &reserved));
  }
  Adopt(std::make_unique<CollectorSection>(std::move(families), std::move(collect)), &reserved);
  return Status::Ok();
}

std::string Registry::Render() const {
  std::vector<const internal::Section*> sections;
  {
    MutexLock lock(mu_);
    sections.reserve(sections_.size());
    for (const auto& s : sections_) sections.push_back(s.get());
  }
  // Outside mu_: collectors may take their own locks, and registration should not wait for a scrape.
  std::string out;
  out.reserve(4096);
  for (const internal::Section* s : sections) s->Render(&out);
  return out;
}

// --- Buckets ---------------------------------------------------------------------------------------------------

std::vector<double> ExponentialBuckets(double start, double factor, int count) {
  if (!(start > 0) || !(factor > 1) || count < 1 || !std::isfinite(start) || !std::isfinite(factor)) return {};
  std::vector<double> b;
  b.reserve(count);
  for (int i = 0; i < count; ++i) b.push_back(RoundTo15Digits(start * std::pow(factor, i)));
  return b;
}

std::vector<double> LinearBuckets(double start, double width, int count) {
  if (!(width > 0) || count < 1 || !std::isfinite(start) || !std::isfinite(width)) return {};
  std::vector<double> b;
  b.reserve(count);
  for (int i = 0; i < count; ++i) b.push_back(RoundTo15Digits(start + width * i));
  return b;
}

}  // namespace ferry::metrics
