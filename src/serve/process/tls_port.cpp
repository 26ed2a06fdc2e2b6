#include "serve/process/tls_port.hpp"

#include "core/config_file.hpp"
#include "serve/tls/tls_protocol.hpp"

namespace devops::serve {

namespace {

std::vector<std::string> paths_of(const core::TlsSettings& s) {
  std::vector<std::string> paths{s.cert, s.key};
  if (!s.client_ca.empty()) paths.push_back(s.client_ca);
  return paths;
}

TlsFiles pem_of(const std::vector<std::string>& texts) {
  return {texts.at(0), texts.at(1), texts.size() > 2 ? texts[2] : std::string()};
}

}  // namespace

std::variant<std::unique_ptr<TlsPort>, std::string> TlsPort::open(const core::TlsSettings& settings, TlsStats& stats,
                                                                  const Logger& logger) {
  std::vector<std::string> texts;
  for (const auto& path : paths_of(settings)) {
    auto read = core::read_config_text(path);
    if (auto* e = std::get_if<core::ReadError>(&read)) return e->message;
    texts.push_back(std::move(std::get<std::string>(read)));
  }
  auto built = TlsContext::build(pem_of(texts));
  if (auto* e = std::get_if<std::string>(&built)) return settings.cert + ": " + *e;
  auto ctx = std::get<std::shared_ptr<const TlsContext>>(std::move(built));
  return std::unique_ptr<TlsPort>(new TlsPort(settings, stats, logger, ctx, std::move(texts)));
}

TlsPort::TlsPort(const core::TlsSettings& settings, TlsStats& stats, const Logger& logger,
                 const std::shared_ptr<const TlsContext>& first, std::vector<std::string> texts)
    : settings_(settings), stats_(stats), logger_(logger), current_(first), start_texts_(std::move(texts)) {
  stats_.enabled.store(true, std::memory_order_relaxed);
  stats_.not_after.store(first->not_after(), std::memory_order_relaxed);
}

TlsPort::~TlsPort() {
  watch_.reset();
}

ProtocolFactory TlsPort::protocol() {
  return [this](const HttpLimits& limits, HttpService& service, std::string peer) -> std::unique_ptr<ConnProtocol> {
    return std::make_unique<TlsProtocol>(current_.current(), limits, service, std::move(peer), stats_);
  };
}

std::optional<std::string> TlsPort::apply(const std::vector<std::string>& texts) {
  auto built = TlsContext::build(pem_of(texts));
  if (auto* e = std::get_if<std::string>(&built)) return *e;
  auto ctx = std::get<std::shared_ptr<const TlsContext>>(std::move(built));
  const auto subject = ctx->subject();
  const auto not_after = ctx->not_after();
  current_.publish(std::move(ctx));  // new handshakes from now on; open connections keep theirs
  stats_.not_after.store(not_after, std::memory_order_relaxed);
  // Logged once it serves: whoever reads the line and connects gets the new one.
  logger_.log(core::LogLevel::Info, "TLS certificate reloaded",
              {{"file", settings_.cert}, {"subject", subject}, {"not_after", not_after}});
  return std::nullopt;
}

void TlsPort::watch() {
  watch_ = std::make_unique<FileWatch>(
      paths_of(settings_), start_texts_, [this](const std::vector<std::string>& texts) { return apply(texts); },
      [this](bool ok) {
        (ok ? stats_.reloads_success : stats_.reloads_failure).fetch_add(1, std::memory_order_relaxed);
      },
      FileWatch::Words{"TLS certificate", "TLS reload failed, keeping the last good certificate",
                       "the last good certificate"},
      logger_);
  start_texts_.clear();
}

void TlsPort::reload_now() {
  if (watch_) watch_->reload_now();
}

}  // namespace devops::serve
