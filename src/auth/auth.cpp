// SPDX-License-Identifier: AGPL-3.0-or-later
#include "auth/auth.h"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>
#include <semaphore>

namespace focal::auth {
namespace {

constexpr store::Migration kMigrations[] = {
    {1, R"sql(
CREATE TABLE auth_user (
  id INTEGER PRIMARY KEY,
  email TEXT NOT NULL UNIQUE COLLATE NOCASE,
  name TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  is_admin INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL
);
CREATE TABLE auth_session (
  id INTEGER PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES auth_user(id) ON DELETE CASCADE,
  token_hash BLOB NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  last_used_at INTEGER NOT NULL
);
CREATE INDEX auth_session_user ON auth_session(user_id);
CREATE TABLE auth_api_key (
  id INTEGER PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES auth_user(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  key_hash BLOB NOT NULL UNIQUE,
  created_at INTEGER NOT NULL
);
CREATE INDEX auth_api_key_user ON auth_api_key(user_id);
)sql"},
    {2, "ALTER TABLE auth_api_key ADD COLUMN permissions TEXT NOT NULL DEFAULT 'all';"},
};

// The placeholder instance owner (see auth.h): an admin nobody can log in as until admin sign-up claims it.
constexpr std::string_view kPlaceholderEmail = "owner@localhost";

constexpr std::size_t kTokenBytes = 32;
constexpr std::size_t kHashBytes = crypto_generichash_BYTES;  // 32
constexpr std::size_t kMaxCredentialLength = 256;

using TokenHash = std::array<std::byte, kHashBytes>;

// Keyed by the component name so a token hash from another context can never match.
TokenHash hash_token(std::string_view token) {
  TokenHash out{};
  static constexpr std::string_view kContext = "focal-auth-token-v1";
  crypto_generichash(reinterpret_cast<unsigned char*>(out.data()), out.size(),
                     reinterpret_cast<const unsigned char*>(token.data()), token.size(),
                     reinterpret_cast<const unsigned char*>(kContext.data()), kContext.size());
  return out;
}

std::string random_token() {
  std::array<unsigned char, kTokenBytes> raw{};
  randombytes_buf(raw.data(), raw.size());
  std::string text(sodium_base64_ENCODED_LEN(raw.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
  sodium_bin2base64(text.data(), text.size(), raw.data(), raw.size(),
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  text.resize(std::strlen(text.c_str()));
  return text;
}

Error unauthorized(std::string message) { return {ErrorKind::kUnauthorized, std::move(message)}; }

Status validate_email(std::string_view email) {
  const auto at = email.find('@');
  if (email.empty() || email.size() > 254 || at == std::string_view::npos || at == 0 ||
      at + 1 == email.size() || email.find_first_of(" \t\r\n") != std::string_view::npos) {
    return bad_request("email must be an email");
  }
  return {};
}

Status validate_password(std::string_view password) {
  if (password.size() < kMinPasswordLength || password.size() > kMaxPasswordLength) {
    return bad_request("password must be between " + std::to_string(kMinPasswordLength) + " and " +
                       std::to_string(kMaxPasswordLength) + " characters");
  }
  return {};
}

Expected<std::string> hash_password(std::string_view password) {
  std::array<char, crypto_pwhash_STRBYTES> out{};
  if (crypto_pwhash_str(out.data(), password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
    return internal_error("Password hashing ran out of memory");
  }
  return std::string(out.data());
}

bool verify_password(const std::string& stored, std::string_view password) {
  return crypto_pwhash_str_verify(stored.c_str(), password.data(), password.size()) == 0;
}

// A well-formed Argon2id string for a password nobody knows, verified when the email is unknown so that
// "unknown user" and "wrong password" take the same time.
const std::string& dummy_hash() {
  static const std::string hash = [] {
    auto h = hash_password(random_token());
    return h ? *h : std::string();
  }();
  return hash;
}

User user_from_row(const store::Statement& row, int first) {
  User user;
  user.id = row.int64(first);
  user.email = row.text(first + 1);
  user.name = row.text(first + 2);
  user.is_admin = row.int64(first + 3) != 0;
  user.created_at = row.int64(first + 4);
  return user;
}

constexpr const char* kUserColumns = "u.id, u.email, u.name, u.is_admin, u.created_at";

Expected<Identity> identity_by_hash(store::Database& db, const char* table, const char* column,
                                    const TokenHash& hash, bool is_session) {
  return db.read([&](store::Connection& c) -> Expected<Identity> {
    auto stmt = c.prepare(std::string("SELECT t.id, t.") + column + ", " + kUserColumns +
                          (is_session ? ", ''" : ", t.permissions") + " FROM " + table +
                          " t JOIN auth_user u ON u.id = t.user_id WHERE t." + column + " = ?1");
    if (!stmt) return stmt.error();
    stmt->bind_blob(1, hash);
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) return unauthorized(is_session ? "Invalid user token" : "Invalid API key");
    // The index lookup found the row by hash; the comparison below keeps the final check constant-time.
    const auto stored = stmt->blob(1);
    if (stored.size() != hash.size() || sodium_memcmp(stored.data(), hash.data(), hash.size()) != 0) {
      return unauthorized(is_session ? "Invalid user token" : "Invalid API key");
    }
    Identity identity;
    (is_session ? identity.session_id : identity.api_key_id) = stmt->int64(0);
    identity.user = user_from_row(*stmt, 2);
    if (!is_session) identity.permissions = PermissionSet::deserialize(stmt->text(7));
    return identity;
  });
}

}  // namespace

std::span<const store::Migration> migrations() { return kMigrations; }

Status init_crypto() {
  if (sodium_init() < 0) return internal_error("libsodium could not be initialised");
  return {};
}

// Failed-login counters per account and per address, in memory (a restart forgets them, which only helps
// an attacker who can restart the server). Bounded: the oldest idle counters are dropped beyond kMaxKeys.
class AuthService::LoginThrottle {
 public:
  explicit LoginThrottle(const LoginLimits& limits)
      : limits_(limits), hashing_(std::max<std::ptrdiff_t>(limits.concurrent_hashes, 1)) {}

  // Seconds the pair still has to wait (0: may try now).
  std::int64_t wait_s(std::string_view account, std::string_view address) const {
    const std::lock_guard lock(mutex_);
    const auto now = Clock::now();
    return std::max(wait_of(accounts_, account, limits_.free_failures_per_account, now),
                    wait_of(addresses_, address, limits_.free_failures_per_address, now));
  }

  void failed(std::string_view account, std::string_view address) {
    const std::lock_guard lock(mutex_);
    const auto now = Clock::now();
    bump(accounts_, account, now);
    bump(addresses_, address, now);
  }

  void succeeded(std::string_view account, std::string_view address) {
    const std::lock_guard lock(mutex_);
    accounts_.erase(std::string(account));
    addresses_.erase(std::string(address));
  }

  std::counting_semaphore<>& hashing() { return hashing_; }

 private:
  using Clock = std::chrono::steady_clock;
  struct Counter {
    int failures = 0;
    Clock::time_point last;
  };
  using Counters = std::map<std::string, Counter, std::less<>>;
  static constexpr std::size_t kMaxKeys = 100'000;

  std::int64_t wait_of(const Counters& counters, std::string_view key, int free,
                       Clock::time_point now) const {
    const auto found = counters.find(key);
    if (found == counters.end() || now - found->second.last > limits_.forget_after) return 0;
    const int over = found->second.failures - free;
    if (over <= 0) return 0;
    const double seconds = std::min(static_cast<double>(limits_.first_wait.count()) * std::pow(2.0, over - 1),
                                    static_cast<double>(limits_.max_wait.count()));
    const auto until = found->second.last + std::chrono::seconds(static_cast<std::int64_t>(seconds));
    return until > now ? std::chrono::ceil<std::chrono::seconds>(until - now).count() : 0;
  }

  void bump(Counters& counters, std::string_view key, Clock::time_point now) {
    if (key.empty()) return;
    auto found = counters.find(key);
    if (found == counters.end()) {
      if (counters.size() >= kMaxKeys) forget_oldest(counters);
      found = counters.emplace(std::string(key), Counter{}).first;
    }
    if (now - found->second.last > limits_.forget_after) found->second.failures = 0;
    ++found->second.failures;
    found->second.last = now;
  }

  static void forget_oldest(Counters& counters) {
    auto oldest = counters.begin();
    for (auto it = counters.begin(); it != counters.end(); ++it) {
      if (it->second.last < oldest->second.last) oldest = it;
    }
    counters.erase(oldest);
  }

  LoginLimits limits_;
  mutable std::mutex mutex_;
  Counters accounts_;
  Counters addresses_;
  std::counting_semaphore<> hashing_;
};

namespace {

// Turns the placeholder owner into this admin; nullopt when there is no placeholder.
Expected<std::optional<User>> claim_placeholder(store::Connection& c, std::string_view email,
                                                std::string_view name, const std::string& hash) {
  auto claim = c.prepare(
      "UPDATE auth_user SET email = ?1, name = ?2, password_hash = ?3 "
      "WHERE id = (SELECT id FROM auth_user WHERE is_admin = 1 AND password_hash = '' ORDER BY id LIMIT 1) "
      "RETURNING id, created_at");
  if (!claim) return claim.error();
  claim->bind(1, email).bind(2, name).bind(3, std::string_view(hash));
  auto claimed = claim->step();
  if (!claimed) return claimed.error();
  if (!*claimed) return std::optional<User>{};
  return std::optional<User>{
      User{claim->int64(0), std::string(email), std::string(name), true, claim->int64(1)}};
}

}  // namespace

AuthService::AuthService(store::Database& db, LoginLimits limits)
    : db_(db), throttle_(std::make_unique<LoginThrottle>(limits)) {}

AuthService::~AuthService() = default;

Expected<User> AuthService::admin_sign_up(std::string_view email, std::string_view password,
                                          std::string_view name) {
  if (auto st = validate_email(email); !st) return st.error();
  if (auto st = validate_password(password); !st) return st.error();
  auto hash = hash_password(password);
  if (!hash) return hash.error();
  const auto now = store::now_ms();
  return db_.write([&](store::Connection& c) -> Expected<User> {
    auto exists = c.prepare("SELECT 1 FROM auth_user WHERE is_admin = 1 AND password_hash != '' LIMIT 1");
    if (!exists) return exists.error();
    auto row = exists->step();
    if (!row) return row.error();
    if (*row) return bad_request("The server already has an admin");
    // Claim the placeholder owner (and with it the data imported by the CLI) when there is one.
    auto claimed = claim_placeholder(c, email, name, *hash);
    if (!claimed || *claimed) return claimed ? **claimed : Expected<User>(claimed.error());
    auto insert = c.prepare(
        "INSERT INTO auth_user(email, name, password_hash, is_admin, created_at) VALUES (?1, ?2, ?3, 1, ?4)");
    if (!insert) return insert.error();
    insert->bind(1, email).bind(2, name).bind(3, std::string_view(*hash)).bind(4, now);
    if (auto st = insert->run(); !st) return st.error();
    return User{c.last_insert_rowid(), std::string(email), std::string(name), true, now};
  });
}

Expected<std::int64_t> AuthService::instance_owner() {
  return db_.write([&](store::Connection& c) -> Expected<std::int64_t> {
    auto first = c.prepare("SELECT id FROM auth_user WHERE is_admin = 1 ORDER BY id LIMIT 1");
    if (!first) return first.error();
    auto row = first->step();
    if (!row) return row.error();
    if (*row) return first->int64(0);
    auto insert = c.prepare(
        "INSERT INTO auth_user(email, name, password_hash, is_admin, created_at) VALUES (?1, 'Owner', '', 1, "
        "?2)");
    if (!insert) return insert.error();
    insert->bind(1, kPlaceholderEmail).bind(2, store::now_ms());
    if (auto st = insert->run(); !st) return st.error();
    return c.last_insert_rowid();
  });
}

Expected<User> AuthService::user_by_id(std::int64_t id) {
  return db_.read([&](store::Connection& c) -> Expected<User> {
    auto stmt = c.prepare(std::string("SELECT ") + kUserColumns + " FROM auth_user u WHERE u.id = ?1");
    if (!stmt) return stmt.error();
    stmt->bind(1, id);
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) return not_found("No user with id " + std::to_string(id));
    return user_from_row(*stmt, 0);
  });
}

Expected<User> AuthService::user_by_email(std::string_view email) {
  return db_.read([&](store::Connection& c) -> Expected<User> {
    auto stmt = c.prepare(std::string("SELECT ") + kUserColumns + " FROM auth_user u WHERE u.email = ?1");
    if (!stmt) return stmt.error();
    stmt->bind(1, email);
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) return not_found("No user with the email " + std::string(email.substr(0, 254)));
    return user_from_row(*stmt, 0);
  });
}

Expected<User> AuthService::create_user(std::string_view email, std::string_view password,
                                        std::string_view name, bool is_admin) {
  if (auto st = validate_email(email); !st) return st.error();
  if (auto st = validate_password(password); !st) return st.error();
  auto hash = hash_password(password);
  if (!hash) return hash.error();
  const auto now = store::now_ms();
  return db_.write([&](store::Connection& c) -> Expected<User> {
    if (is_admin) {
      // The first real admin claims the placeholder owner (and the data the CLI imported for it).
      auto claimed = claim_placeholder(c, email, name, *hash);
      if (!claimed || *claimed) return claimed ? **claimed : Expected<User>(claimed.error());
    }
    auto insert = c.prepare(
        "INSERT INTO auth_user(email, name, password_hash, is_admin, created_at) VALUES (?1, ?2, ?3, ?4, ?5) "
        "ON CONFLICT(email) DO NOTHING");
    if (!insert) return insert.error();
    insert->bind(1, email)
        .bind(2, name)
        .bind(3, std::string_view(*hash))
        .bind(4, is_admin ? 1 : 0)
        .bind(5, now);
    if (auto st = insert->run(); !st) return st.error();
    if (c.changes() == 0) return Error{ErrorKind::kConflict, "A user with this email already exists"};
    return User{c.last_insert_rowid(), std::string(email), std::string(name), is_admin, now};
  });
}

Expected<std::vector<User>> AuthService::list_users() {
  return db_.read([&](store::Connection& c) -> Expected<std::vector<User>> {
    auto stmt = c.prepare(std::string("SELECT ") + kUserColumns + " FROM auth_user u ORDER BY u.id");
    if (!stmt) return stmt.error();
    std::vector<User> users;
    while (true) {
      auto row = stmt->step();
      if (!row) return row.error();
      if (!*row) break;
      users.push_back(user_from_row(*stmt, 0));
    }
    return users;
  });
}

Expected<bool> AuthService::has_admin() {
  return db_.read([&](store::Connection& c) -> Expected<bool> {
    auto stmt = c.prepare("SELECT 1 FROM auth_user WHERE is_admin = 1 AND password_hash != '' LIMIT 1");
    if (!stmt) return stmt.error();
    return stmt->step();
  });
}

namespace {

// Emails compare case-insensitively (COLLATE NOCASE), so the throttle's key does too.
std::string account_key(std::string_view email) {
  std::string account(email);
  for (auto& ch : account) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return account;
}

}  // namespace

std::int64_t AuthService::login_retry_after_s(std::string_view email, std::string_view client_address) const {
  return throttle_->wait_s(account_key(email), client_address);
}

Expected<Session> AuthService::login(std::string_view email, std::string_view password,
                                     std::string_view client_address) {
  if (email.size() > kMaxCredentialLength * 2 || password.size() > kMaxPasswordLength) {
    return unauthorized("Incorrect email or password");
  }
  const std::string account = account_key(email);
  if (const auto wait = throttle_->wait_s(account, client_address); wait > 0) {
    return Error{ErrorKind::kTooManyRequests,
                 "Too many failed logins; try again in " + std::to_string(wait) + " seconds"};
  }
  auto found = db_.read([&](store::Connection& c) -> Expected<std::pair<User, std::string>> {
    auto stmt = c.prepare(std::string("SELECT ") + kUserColumns +
                          ", u.password_hash FROM auth_user u WHERE u.email = ?1");
    if (!stmt) return stmt.error();
    stmt->bind(1, email);
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) return std::pair<User, std::string>{User{}, std::string()};
    return std::pair<User, std::string>{user_from_row(*stmt, 0), stmt->text(5)};
  });
  if (!found) return found.error();
  const bool known = found->first.id != 0;
  bool matches = false;
  {
    auto& hashing = throttle_->hashing();
    hashing.acquire();
    matches = verify_password(known ? found->second : dummy_hash(), password);
    hashing.release();
  }
  if (!known || !matches) {
    throttle_->failed(account, client_address);
    return unauthorized("Incorrect email or password");
  }
  throttle_->succeeded(account, client_address);

  const auto token = random_token();
  const auto hash = hash_token(token);
  const auto now = store::now_ms();
  auto id = db_.write([&](store::Connection& c) -> Expected<std::int64_t> {
    auto insert = c.prepare(
        "INSERT INTO auth_session(user_id, token_hash, created_at, last_used_at) VALUES (?1, ?2, ?3, ?3)");
    if (!insert) return insert.error();
    insert->bind(1, found->first.id).bind_blob(2, hash).bind(3, now);
    if (auto st = insert->run(); !st) return st.error();
    return c.last_insert_rowid();
  });
  if (!id) return id.error();
  return Session{*id, token, found->first};
}

Status AuthService::logout(std::int64_t session_id) {
  return db_.write([&](store::Connection& c) -> Status {
    auto stmt = c.prepare("DELETE FROM auth_session WHERE id = ?1");
    if (!stmt) return stmt.error();
    stmt->bind(1, session_id);
    return stmt->run();
  });
}

Expected<Identity> AuthService::authenticate_session(std::string_view token) {
  if (token.empty() || token.size() > kMaxCredentialLength) return unauthorized("Invalid user token");
  return identity_by_hash(db_, "auth_session", "token_hash", hash_token(token), true);
}

Expected<Identity> AuthService::authenticate_api_key(std::string_view key) {
  if (key.empty() || key.size() > kMaxCredentialLength) return unauthorized("Invalid API key");
  return identity_by_hash(db_, "auth_api_key", "key_hash", hash_token(key), false);
}

Expected<CreatedApiKey> AuthService::create_api_key(std::int64_t user_id, std::string_view name,
                                                    const PermissionSet& permissions) {
  if (name.size() > kMaxCredentialLength) return bad_request("name must be at most 256 characters");
  if (permissions.empty()) return bad_request("permissions must name at least one permission");
  const auto secret = random_token();
  const auto hash = hash_token(secret);
  const auto now = store::now_ms();
  const std::string key_name = name.empty() ? std::string("API Key") : std::string(name);
  auto id = db_.write([&](store::Connection& c) -> Expected<std::int64_t> {
    auto insert = c.prepare(
        "INSERT INTO auth_api_key(user_id, name, key_hash, created_at, permissions) VALUES (?1, ?2, ?3, ?4, "
        "?5)");
    if (!insert) return insert.error();
    const auto stored = permissions.serialize();
    insert->bind(1, user_id)
        .bind(2, std::string_view(key_name))
        .bind_blob(3, hash)
        .bind(4, now)
        .bind(5, stored);
    if (auto st = insert->run(); !st) return st.error();
    return c.last_insert_rowid();
  });
  if (!id) return id.error();
  return CreatedApiKey{ApiKey{*id, key_name, now, permissions}, secret};
}

Expected<std::vector<ApiKey>> AuthService::list_api_keys(std::int64_t user_id) {
  return db_.read([&](store::Connection& c) -> Expected<std::vector<ApiKey>> {
    auto stmt = c.prepare(
        "SELECT id, name, created_at, permissions FROM auth_api_key WHERE user_id = ?1 ORDER BY id");
    if (!stmt) return stmt.error();
    stmt->bind(1, user_id);
    std::vector<ApiKey> keys;
    while (true) {
      auto row = stmt->step();
      if (!row) return row.error();
      if (!*row) break;
      keys.push_back(
          ApiKey{stmt->int64(0), stmt->text(1), stmt->int64(2), PermissionSet::deserialize(stmt->text(3))});
    }
    return keys;
  });
}

Status AuthService::delete_api_key(std::int64_t user_id, std::int64_t key_id) {
  return db_.write([&](store::Connection& c) -> Status {
    auto stmt = c.prepare("DELETE FROM auth_api_key WHERE id = ?1 AND user_id = ?2");
    if (!stmt) return stmt.error();
    stmt->bind(1, key_id).bind(2, user_id);
    if (auto st = stmt->run(); !st) return st;
    if (c.changes() == 0) return not_found("API key not found");
    return {};
  });
}

}  // namespace focal::auth
