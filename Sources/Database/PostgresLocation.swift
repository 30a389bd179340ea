import Foundation
import NIOSSL
import PostgresNIO

/// Where a PostgreSQL database is and how to log in, read from a libpq-style URL:
/// `postgres://user:password@host:port/database?sslmode=disable`, or a socket directory as the
/// host (`postgres://user@%2Fvar%2Frun%2Fpostgresql/database`, or `?host=/var/run/postgresql`).
/// Defaults as libpq: port 5432, the socket directory /var/run/postgresql without a host, the
/// login user's name as user, the user as database, sslmode=prefer.
struct PostgresLocation: Sendable {
    enum SSLMode: String, CaseIterable, Sendable {
        case disable, allow, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    var host: String
    var port: Int
    /// The socket file, when `host` is a directory.
    var socketPath: String?
    var user: String
    var password: String?
    var database: String
    var sslMode: SSLMode

    /// "PostgreSQL user@host:port/database": what errors say, without the password.
    var label: String { "PostgreSQL \(user)@\(host)\(socketPath == nil ? ":\(port)" : "")/\(database)" }

    init(url: String) throws {
        // The URL is not repeated in these errors: it may hold the password.
        func invalid(_ reason: String) -> DatabaseError {
            DatabaseError(database: "PostgreSQL", "the database URL \(reason) (expected postgres://user:password@host:port/database)")
        }
        guard let components = URLComponents(string: url), let scheme = components.scheme else { throw invalid("is not a URL") }
        guard scheme == "postgres" || scheme == "postgresql" else { throw invalid("has the scheme \"\(scheme)\", not postgres") }
        guard components.fragment == nil else { throw invalid("has a #fragment") }

        var host = components.host.flatMap { $0.isEmpty ? nil : $0 }
        var mode = SSLMode.prefer
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let value = item.value.flatMap(SSLMode.init(rawValue:)) else {
                    throw invalid("has sslmode=\(item.value ?? ""); use one of \(SSLMode.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                mode = value
            case "host": host = item.value
            default: throw invalid("has the parameter \"\(item.name)\"; coresdk knows sslmode and host")
            }
        }
        let port = components.port ?? 5432
        guard (1...65535).contains(port) else { throw invalid("has the port \(port)") }
        self.port = port
        self.host = host ?? "/var/run/postgresql"
        socketPath = self.host.hasPrefix("/") ? "\(self.host)/.s.PGSQL.\(port)" : nil
        user = components.user.flatMap { $0.isEmpty ? nil : $0 } ?? ProcessInfo.processInfo.userName
        password = components.password
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        guard !path.contains("/") else { throw invalid("has a path with more than a database name") }
        database = path.isEmpty ? user : path
        sslMode = mode
    }

    /// libpq's meaning of sslmode: prefer and require encrypt without checking the certificate
    /// (Debian's clusters use a self-signed one), verify-ca checks it, verify-full checks the host too.
    private var tlsConfiguration: TLSConfiguration? {
        var configuration = TLSConfiguration.makeClientConfiguration()
        switch sslMode {
        case .disable: return nil
        case .allow, .prefer, .require: configuration.certificateVerification = .none
        case .verifyCA: configuration.certificateVerification = .noHostnameVerification
        case .verifyFull: configuration.certificateVerification = .fullVerification
        }
        return configuration
    }

    private var tlsRequired: Bool { ![.disable, .allow, .prefer].contains(sslMode) }

    var clientConfiguration: PostgresClient.Configuration {
        var configuration: PostgresClient.Configuration
        if let socketPath {
            configuration = .init(unixSocketPath: socketPath, username: user, password: password, database: database)
        } else {
            let tls: PostgresClient.Configuration.TLS = tlsConfiguration.map { tlsRequired ? .require($0) : .prefer($0) } ?? .disable
            configuration = .init(host: host, port: port, username: user, password: password, database: database, tls: tls)
        }
        configuration.options.additionalStartupParameters = [("application_name", "coresdk")]
        return configuration
    }

    func connectionConfiguration() throws -> PostgresConnection.Configuration {
        var configuration: PostgresConnection.Configuration
        if let socketPath {
            configuration = .init(unixSocketPath: socketPath, username: user, password: password, database: database)
        } else {
            var tls = PostgresConnection.Configuration.TLS.disable
            if let tlsConfiguration {
                let context = try NIOSSLContext(configuration: tlsConfiguration)
                tls = tlsRequired ? .require(context) : .prefer(context)
            }
            configuration = .init(host: host, port: port, username: user, password: password, database: database, tls: tls)
        }
        configuration.options.additionalStartupParameters = [("application_name", "coresdk")]
        return configuration
    }
}
