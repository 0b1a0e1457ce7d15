// Users, login sessions and API keys of the library server.
//
// Passwords are stored as libsodium Argon2id strings (crypto_pwhash_str). Session tokens and API keys are 32
// random bytes shown to the client once; the database keeps only their BLAKE2b hash, so a copy of the
// database does not grant access, and lookups compare hashes in constant time.
//
// Schema (component "auth", migrated after "people"/"duplicates"; only this component writes these tables):
//   auth_user(id INTEGER PK, email TEXT UNIQUE NOT NULL COLLATE NOCASE, name TEXT NOT NULL, password_hash
//   TEXT
//             NOT NULL, is_admin INT NOT NULL, created_at INT NOT NULL)
//   auth_session(id INTEGER PK, user_id INT NOT NULL REFERENCES auth_user ON DELETE CASCADE, token_hash BLOB
//                UNIQUE NOT NULL, created_at INT NOT NULL, last_used_at INT NOT NULL)
//   auth_api_key(id INTEGER PK, user_id INT NOT NULL REFERENCES auth_user ON DELETE CASCADE, name TEXT NOT
//   NULL,
//                key_hash BLOB UNIQUE NOT NULL, created_at INT NOT NULL)
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

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
  std::int64_t session_id = 0;  // set for session tokens
  std::int64_t api_key_id = 0;  // set for API keys
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

class AuthService {
 public:
  // The database must already be migrated with migrations().
  explicit AuthService(store::Database& db) : db_(db) {}

  // Creates the first user as admin; 400 "The server already has an admin" when any admin exists.
  Expected<User> admin_sign_up(std::string_view email, std::string_view password, std::string_view name);
  // Creates a user (409 when the email is taken). Validates email and password length (400).
  Expected<User> create_user(std::string_view email, std::string_view password, std::string_view name,
                             bool is_admin);
  Expected<std::vector<User>> list_users();
  Expected<bool> has_admin();

  // Checks the password and opens a session; 401 "Incorrect email or password" for any mismatch.
  Expected<Session> login(std::string_view email, std::string_view password);
  Status logout(std::int64_t session_id);

  // Resolves a session token / API key; 401 "Invalid user token" / "Invalid API key" when unknown.
  Expected<Identity> authenticate_session(std::string_view token);
  Expected<Identity> authenticate_api_key(std::string_view key);

  Expected<CreatedApiKey> create_api_key(std::int64_t user_id, std::string_view name);
  Expected<std::vector<ApiKey>> list_api_keys(std::int64_t user_id);
  // 404 when the key does not exist or belongs to another user.
  Status delete_api_key(std::int64_t user_id, std::int64_t key_id);

 private:
  store::Database& db_;
};

}  // namespace focal::auth
