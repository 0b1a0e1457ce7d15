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

#include "store/query.h"

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

// A user whose columns come first in the row (kUserColumns at column 0).
User user_of_row(const store::Statement& row) { return user_from_row(row, 0); }

Expected<Identity> identity_by_hash(store::Database& db, const char* table, const char* column,
                                    const TokenHash& hash, bool is_session) {
  return db.read([&](store::Connection& c) -> Expected<Identity> {
    const auto invalid = [&] { return unauthorized(is_session ? "Invalid user token" : "Invalid API key"); };
    auto found = store::query_one(
        c,
        std::string("SELECT t.id, t.") + column + ", " + kUserColumns +
            (is_session ? ", ''" : ", t.permissions") + " FROM " + table +
            " t JOIN auth_user u ON u.id = t.user_id WHERE t." + column + " = ?1",
        [&](const store::Statement& row) -> Expected<Identity> {
          // The index lookup found the row by hash; this comparison keeps the final check constant-time.
          const auto stored = row.blob(1);
          if (stored.size() != hash.size() || sodium_memcmp(stored.data(), hash.data(), hash.size()) != 0) {
            return invalid();
          }
          Identity identity;
          (is_session ? identity.session_id : identity.api_key_id) = row.int64(0);
          identity.user = user_from_row(row, 2);
          if (!is_session) identity.permissions = PermissionSet::deserialize(row.text(7));
          return identity;
        },
        store::Blob{hash});
    if (!found) return std::move(found).error();
    if (!*found) return invalid();
    return std::move(**found);
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
  return store::query_one(
      c,
      "UPDATE auth_user SET email = ?1, name = ?2, password_hash = ?3 "
      "WHERE id = (SELECT id FROM auth_user WHERE is_admin = 1 AND password_hash = '' ORDER BY id LIMIT 1) "
      "RETURNING id, created_at",
      [&](const store::Statement& row) {
        return User{row.int64(0), std::string(email), std::string(name), true, row.int64(1)};
      },
      email, name, hash);
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
    auto exists = store::query_one<std::int64_t>(
        c, "SELECT 1 FROM auth_user WHERE is_admin = 1 AND password_hash != '' LIMIT 1");
    if (!exists) return std::move(exists).error();
    if (*exists) return bad_request("The server already has an admin");
    // Claim the placeholder owner (and with it the data imported by the CLI) when there is one.
    auto claimed = claim_placeholder(c, email, name, *hash);
    if (!claimed || *claimed) return claimed ? **claimed : Expected<User>(claimed.error());
    Status inserted = store::exec(
        c,
        "INSERT INTO auth_user(email, name, password_hash, is_admin, created_at) VALUES (?1, ?2, ?3, 1, ?4)",
        email, name, *hash, now);
    if (!inserted) return inserted.error();
    return User{c.last_insert_rowid(), std::string(email), std::string(name), true, now};
  });
}

Expected<std::int64_t> AuthService::instance_owner() {
  return db_.write([&](store::Connection& c) -> Expected<std::int64_t> {
    auto first =
        store::query_one<std::int64_t>(c, "SELECT id FROM auth_user WHERE is_admin = 1 ORDER BY id LIMIT 1");
    if (!first) return std::move(first).error();
    if (*first) return **first;
    Status inserted = store::exec(c,
                                  "INSERT INTO auth_user(email, name, password_hash, is_admin, created_at) "
                                  "VALUES (?1, 'Owner', '', 1, ?2)",
                                  kPlaceholderEmail, store::now_ms());
    if (!inserted) return inserted.error();
    return c.last_insert_rowid();
  });
}

Expected<User> AuthService::user_by_id(std::int64_t id) {
  return db_.read([&](store::Connection& c) -> Expected<User> {
    auto user = store::query_one(
        c, std::string("SELECT ") + kUserColumns + " FROM auth_user u WHERE u.id = ?1", user_of_row, id);
    if (!user) return std::move(user).error();
    if (!*user) return not_found("No user with id " + std::to_string(id));
    return std::move(**user);
  });
}

Expected<User> AuthService::user_by_email(std::string_view email) {
  return db_.read([&](store::Connection& c) -> Expected<User> {
    auto user =
        store::query_one(c, std::string("SELECT ") + kUserColumns + " FROM auth_user u WHERE u.email = ?1",
                         user_of_row, email);
    if (!user) return std::move(user).error();
    if (!*user) return not_found("No user with the email " + std::string(email.substr(0, 254)));
    return std::move(**user);
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
    Status inserted =
        store::exec(c,
                    "INSERT INTO auth_user(email, name, password_hash, is_admin, created_at) VALUES "
                    "(?1, ?2, ?3, ?4, ?5) ON CONFLICT(email) DO NOTHING",
                    email, name, *hash, is_admin, now);
    if (!inserted) return inserted.error();
    if (c.changes() == 0) return Error{ErrorKind::kConflict, "A user with this email already exists"};
    return User{c.last_insert_rowid(), std::string(email), std::string(name), is_admin, now};
  });
}

Expected<std::vector<User>> AuthService::list_users() {
  return db_.read([&](store::Connection& c) -> Expected<std::vector<User>> {
    return store::query(c, std::string("SELECT ") + kUserColumns + " FROM auth_user u ORDER BY u.id",
                        user_of_row);
  });
}

Expected<bool> AuthService::has_admin() {
  return db_.read([&](store::Connection& c) -> Expected<bool> {
    auto admin = store::query_one<std::int64_t>(
        c, "SELECT 1 FROM auth_user WHERE is_admin = 1 AND password_hash != '' LIMIT 1");
    if (!admin) return std::move(admin).error();
    return admin->has_value();
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
    auto user = store::query_one(
        c, std::string("SELECT ") + kUserColumns + ", u.password_hash FROM auth_user u WHERE u.email = ?1",
        [](const store::Statement& row) {
          return std::pair<User, std::string>{user_from_row(row, 0), row.text(5)};
        },
        email);
    if (!user) return std::move(user).error();
    return user->value_or(std::pair<User, std::string>{User{}, std::string()});
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
    Status inserted = store::exec(
        c, "INSERT INTO auth_session(user_id, token_hash, created_at, last_used_at) VALUES (?1, ?2, ?3, ?3)",
        found->first.id, store::Blob{hash}, now);
    if (!inserted) return inserted.error();
    return c.last_insert_rowid();
  });
  if (!id) return id.error();
  return Session{*id, token, found->first};
}

Status AuthService::logout(std::int64_t session_id) {
  return db_.write([&](store::Connection& c) -> Status {
    return store::exec(c, "DELETE FROM auth_session WHERE id = ?1", session_id);
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
    Status inserted = store::exec(c,
                                  "INSERT INTO auth_api_key(user_id, name, key_hash, created_at, "
                                  "permissions) VALUES (?1, ?2, ?3, ?4, ?5)",
                                  user_id, key_name, store::Blob{hash}, now, permissions.serialize());
    if (!inserted) return inserted.error();
    return c.last_insert_rowid();
  });
  if (!id) return id.error();
  return CreatedApiKey{ApiKey{*id, key_name, now, permissions}, secret};
}

Expected<std::vector<ApiKey>> AuthService::list_api_keys(std::int64_t user_id) {
  return db_.read([&](store::Connection& c) -> Expected<std::vector<ApiKey>> {
    return store::query(
        c, "SELECT id, name, created_at, permissions FROM auth_api_key WHERE user_id = ?1 ORDER BY id",
        [](const store::Statement& row) {
          return ApiKey{row.int64(0), row.text(1), row.int64(2), PermissionSet::deserialize(row.text(3))};
        },
        user_id);
  });
}

Status AuthService::delete_api_key(std::int64_t user_id, std::int64_t key_id) {
  return db_.write([&](store::Connection& c) -> Status {
    if (Status st =
            store::exec(c, "DELETE FROM auth_api_key WHERE id = ?1 AND user_id = ?2", key_id, user_id);
        !st)
      return st;
    if (c.changes() == 0) return not_found("API key not found");
    return {};
  });
}

}  // namespace focal::auth
