// SPDX-License-Identifier: AGPL-3.0-or-later
// Users, login sessions and API keys of the library server.
//
// Passwords are stored as libsodium Argon2id strings (crypto_pwhash_str). Session tokens and API keys are 32
// random bytes shown to the client once; the database keeps only their BLAKE2b hash, so a copy of the
// database does not grant access, and lookups compare hashes in constant time.
//
// Failed logins are throttled per account and per client address: after a few failures each further attempt
// must wait an exponentially growing time (429 with Retry-After), and at most a few password hashes run at
// once (Argon2id takes 64 MiB each), so guessing is slow and cannot exhaust memory.
//
// Data of every other component has an owner (a user id). The CLI works without any account: its data
// belongs to the *instance owner*, the first admin; when no user exists yet, a placeholder admin without a
// password is created for it, and the first admin sign-up claims that placeholder (and so the data).
//
// Schema (component "auth", migrated after "people"/"duplicates"; only this component writes these tables):
//   auth_user(id INTEGER PK, email TEXT UNIQUE NOT NULL COLLATE NOCASE (PostgreSQL: a unique index on
//             lower(email)), name TEXT NOT NULL,
//             password_hash TEXT NOT NULL ('' for the placeholder owner: no login possible),
//             is_admin INT NOT NULL, created_at INT NOT NULL)
//   auth_session(id INTEGER PK, user_id INT NOT NULL REFERENCES auth_user ON DELETE CASCADE,
//                token_hash BLOB UNIQUE NOT NULL, created_at INT NOT NULL, last_used_at INT NOT NULL)
//   auth_api_key(id INTEGER PK, user_id INT NOT NULL REFERENCES auth_user ON DELETE CASCADE,
//                name TEXT NOT NULL, key_hash BLOB UNIQUE NOT NULL, created_at INT NOT NULL,
//                permissions TEXT NOT NULL DEFAULT 'all' (comma-separated Immich permission names))
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "auth/permissions.h"
#include "core/error.h"
#include "store/database.h"

namespace focal::auth {

inline constexpr std::string_view kComponent = "auth";
std::span<const store::Migration> migrations();

struct User {
  std::int64_t id = 0;
  std::string email;
  std::string name;
  bool is_admin = false;
  std::int64_t created_at = 0;  // ms since the epoch
};

// Who a presented credential belongs to.
struct Identity {
  User user;
  std::int64_t session_id = 0;                       // set for session tokens
  std::int64_t api_key_id = 0;                       // set for API keys
  PermissionSet permissions = PermissionSet::all();  // an API key's; all for sessions
};

struct Session {
  std::int64_t id = 0;
  std::string access_token;  // shown once
  User user;
};

struct ApiKey {
  std::int64_t id = 0;
  std::string name;
  std::int64_t created_at = 0;
  PermissionSet permissions = PermissionSet::all();
};

struct CreatedApiKey {
  ApiKey key;
  std::string secret;  // shown once
};

// Password and credential rules.
inline constexpr std::size_t kMinPasswordLength = 8;
inline constexpr std::size_t kMaxPasswordLength = 1024;

// Initialises libsodium (idempotent, thread-safe). Fails when the library cannot start.
Status init_crypto();

struct LoginLimits {
  int free_failures_per_account = 5;        // failures before an account's next attempt must wait
  int free_failures_per_address = 20;       // same per client address
  std::chrono::seconds first_wait{1};       // doubling per further failure...
  std::chrono::seconds max_wait{900};       // ...up to this
  std::chrono::seconds forget_after{3600};  // a counter idle this long starts again
  int concurrent_hashes = 2;                // password hashes verified at once
};

class AuthService {
 public:
  // The database must already be migrated with migrations().
  explicit AuthService(store::Database& db, LoginLimits limits = {});
  ~AuthService();
  AuthService(const AuthService&) = delete;
  AuthService& operator=(const AuthService&) = delete;

  // Creates the first admin (claiming the placeholder owner when there is one); 400 "The server already has
  // an admin" when an admin with a password exists.
  Expected<User> admin_sign_up(std::string_view email, std::string_view password, std::string_view name);
  // The instance owner's id (the first admin), creating the placeholder owner when no admin exists.
  Expected<std::int64_t> instance_owner();
  // The user with this email / id (404 when none).
  Expected<User> user_by_email(std::string_view email);
  Expected<User> user_by_id(std::int64_t id);
  // Creates a user (409 when the email is taken). Validates email and password length (400).
  Expected<User> create_user(std::string_view email, std::string_view password, std::string_view name,
                             bool is_admin);
  Expected<std::vector<User>> list_users();
  // An admin who can log in exists (the placeholder owner does not count).
  Expected<bool> has_admin();

  // Checks the password and opens a session; 401 "Incorrect email or password" for any mismatch, 429 while
  // the account or `client_address` has to wait after failures (retry_after_s says how long).
  Expected<Session> login(std::string_view email, std::string_view password, std::string_view client_address);
  // Seconds until `email` / `client_address` may try again (0: now).
  std::int64_t login_retry_after_s(std::string_view email, std::string_view client_address) const;
  Status logout(std::int64_t session_id);

  // Resolves a session token / API key; 401 "Invalid user token" / "Invalid API key" when unknown.
  Expected<Identity> authenticate_session(std::string_view token);
  Expected<Identity> authenticate_api_key(std::string_view key);

  // `permissions` must not be empty (400).
  Expected<CreatedApiKey> create_api_key(std::int64_t user_id, std::string_view name,
                                         const PermissionSet& permissions = PermissionSet::all());
  Expected<std::vector<ApiKey>> list_api_keys(std::int64_t user_id);
  // 404 when the key does not exist or belongs to another user.
  Status delete_api_key(std::int64_t user_id, std::int64_t key_id);

 private:
  class LoginThrottle;
  store::Database& db_;
  std::unique_ptr<LoginThrottle> throttle_;
};

}  // namespace focal::auth
