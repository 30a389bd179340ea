import ArgumentParser
import Foundation
import Support
import UpdateServer

/// `coresdk serve`: the update server, Nebraska's job, in the foreground until SIGTERM/SIGINT.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve updates to machines: Omaha v3 at /v1/update/, payloads, and the JSON API `coresdk updates` uses.",
        discussion: """
        State lives in DATA/updates.sqlite, or in PostgreSQL with --database (several servers can share \
        one database and a DATA directory on shared storage). Payloads are kept in DATA/payloads/. \
        Machines are pointed at it with SERVER=http://HOST:PORT/v1/update/ in update.conf \
        (cloud-config: coreos.update.server).
        """)

    @Option(help: "The server's directory: database, payloads.")
    var data: String = "updates"

    @Option(help: "Address and port to listen on (port 0: any free port, printed at start).")
    var listen: String = "127.0.0.1:8080"

    @Option(help: "A PostgreSQL URL (postgres://user:password@host:port/database) instead of the SQLite file.")
    var database: String?

    @Option(name: .customLong("public-url"), help: "The base URL machines download payloads from (default: the address they reached the server at).")
    var publicURL: String?

    @Option(name: .customLong("app-id"), help: "An Omaha app id to answer (default CoreOS's); repeat for several.")
    var appIDs: [String] = []

    @OptionGroup var format: OutputOptions

    struct Listening: Encodable { let url: String, port: Int, store: String }

    func run() throws {
        let (host, port) = try Self.address(listen)
        let dataDirectory = URL(fileURLWithPath: data)
        let storeName = database.map { _ in "postgresql" } ?? dataDirectory.appendingPathComponent("updates.sqlite").path
        try runBlocking { [database, publicURL, appIDs, format] in
            let store = try await UpdateServer.openStore(dataDirectory: dataDirectory, databaseURL: database)
            let server = UpdateServer(store: store, library: try PayloadLibrary(dataDirectory: dataDirectory),
                                      appIDs: appIDs.isEmpty ? UpdateServer.defaultAppIDs : Set(appIDs), publicURL: publicURL)
            try await server.run(host: host, port: port) { bound in
                let listening = Listening(url: "http://\(host):\(bound)/", port: bound, store: storeName)
                try? format.print(listening, text: "coresdk serve: listening on \(listening.url) (store: \(storeName))")
                // Scripts wait for this line: do not leave it in a pipe's buffer.
                fflush(nil)
            }
        }
    }

    static func address(_ text: String) throws -> (String, Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port),
              colon != text.startIndex else {
            throw SupportError(key: "--listen", "'\(text)' is not HOST:PORT")
        }
        return (String(text[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]")), port)
    }
}

/// `coresdk updates …`: manages a running update server through its JSON API.
struct UpdatesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "updates",
        abstract: "Manage an update server (`coresdk serve`): channels, payloads, groups, machines, events.",
        subcommands: [ChannelCommand.self, PublishCommand.self, GroupCommand.self, InstancesCommand.self, EventsCommand.self])
}

/// Where the server is; every `updates` command takes it.
struct ServerOptions: ParsableArguments {
    @Option(help: "The update server's URL (default $CORESDK_UPDATE_SERVER or http://127.0.0.1:8080).")
    var server: String = ProcessInfo.processInfo.environment["CORESDK_UPDATE_SERVER"] ?? "http://127.0.0.1:8080"

    /// Runs `work` against the server and waits for its answer.
    func call<T: Sendable>(_ work: @escaping @Sendable (UpdateServerClient) async throws -> T) throws -> T {
        let client = try UpdateServerClient(server: server)
        return try runBlocking { try await work(client) }
    }
}

struct ChannelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "channel", abstract: "Channels: a payload signing key and the payload published last.",
        subcommands: [Create.self, List.self])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make a channel whose payloads must verify with a public key.")
        @Argument(help: "The channel's name.") var name: String
        @Option(name: .customLong("public-key"), help: "The public key (PEM) of `coresdk keys generate`.") var publicKey: String
        @OptionGroup var server: ServerOptions
        @OptionGroup var format: OutputOptions

        func run() throws {
            let pem: String
            do { pem = try String(contentsOfFile: publicKey, encoding: .utf8) } catch {
                throw SupportError(file: publicKey, "cannot read the public key")
            }
            let channel = try server.call { [name] in try await $0.createChannel(name: name, publicKey: pem) }
            try format.print(channel, text: "channel \(channel.name) created")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List channels and what they offer.")
        @OptionGroup var server: ServerOptions
        @OptionGroup var format: OutputOptions

        func run() throws {
            let channels = try server.call { try await $0.channels() }
            try format.print(channels, text: channels.map { channel in
                "\(channel.name)\t" + (channel.payload.map { "\($0.version)\t\($0.fileName)\t\($0.size) bytes" } ?? "(nothing published)")
            }.joined(separator: "\n"))
        }
    }
}

struct PublishCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish",
        abstract: "Upload a signed payload to a channel; the server refuses one that does not verify with the channel's key.")

    @Argument(help: "The channel.") var channel: String
    @Argument(help: "The payload (`coresdk payload generate`).") var payload: String
    @Option(help: "Its file name on the server (default: the file's name).") var name: String?
    @Option(help: "The version it installs (default: the VERSION_ID the payload carries).") var version: String?
    @OptionGroup var server: ServerOptions
    @OptionGroup var format: OutputOptions

    func run() throws {
        let file = URL(fileURLWithPath: payload)
        guard FileManager.default.isReadableFile(atPath: file.path) else { throw SupportError(file: payload, "cannot read the payload") }
        let published = try server.call { [channel, name, version] in
            try await $0.publish(file, to: channel, name: name, version: version)
        }
        try format.print(published, text: "channel \(channel) offers \(published.version) (\(published.fileName), \(published.size) bytes)")
    }
}

struct GroupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "group", abstract: "Groups: machines by their GROUP, the channel they follow, the rollout policy.",
        subcommands: [Set.self, List.self, Pause.self, Resume.self])

    struct Set: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a group or change its channel and policy.")
        @Argument(help: "The group: the GROUP machines send (update.conf, cloud-config coreos.update.group).") var name: String
        @Option(help: "The channel it follows.") var channel: String
        @Option(name: .customLong("max-updates"), help: "At most this many grants per period, and in progress at once (default: no limit).")
        var maxUpdates: Int64?
        @Option(help: "The period of --max-updates (30s, 10m, 1h, 1d).") var period: Seconds = Seconds(3600)
        @Option(help: "How long a granted update counts as in progress without news.") var timeout: Seconds = Seconds(3600)
        @OptionGroup var server: ServerOptions
        @OptionGroup var format: OutputOptions

        func run() throws {
            let policy = RolloutPolicy(maxUpdates: maxUpdates, periodSeconds: period.value, updateTimeoutSeconds: timeout.value)
            let group = try server.call { [name, channel] in try await $0.setGroup(name, channel: channel, policy: policy) }
            try format.print(group, text: GroupCommand.line(group))
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List groups and their status.")
        @OptionGroup var server: ServerOptions
        @OptionGroup var format: OutputOptions

        func run() throws {
            let groups = try server.call { try await $0.groups() }
            try format.print(groups, text: groups.map(GroupCommand.line).joined(separator: "\n"))
        }
    }

    struct Pause: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop offering updates to a group.")
        @Argument var name: String
        @OptionGroup var server: ServerOptions
        @OptionGroup var format: OutputOptions

        func run() throws { try GroupCommand.setPaused(name, true, server, format) }
    }

    struct Resume: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Offer updates to a group again, also after the server halted it.")
        @Argument var name: String
        @OptionGroup var server: ServerOptions
        @OptionGroup var format: OutputOptions

        func run() throws { try GroupCommand.setPaused(name, false, server, format) }
    }

    static func setPaused(_ name: String, _ paused: Bool, _ server: ServerOptions, _ format: OutputOptions) throws {
        let group = try server.call { try await $0.setPaused(name, paused) }
        try format.print(group, text: line(group))
    }

    static func line(_ group: UpdateGroup) -> String {
        let limit = group.policy.maxUpdates.map { "at most \($0) per \(group.policy.periodSeconds) s" } ?? "no limit"
        return "\(group.name)\tchannel \(group.channel)\t\(limit)\t\(group.status)"
    }
}

struct InstancesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "instances", abstract: "List the machines the server has seen.")
    @Option(help: "Only this group's.") var group: String?
    @OptionGroup var server: ServerOptions
    @OptionGroup var format: OutputOptions

    func run() throws {
        let instances = try server.call { [group] in try await $0.instances(group: group) }
        try format.print(instances, text: instances.map {
            "\($0.machineID)\t\($0.group)\t\($0.version)\t\($0.status.name)" + ($0.previousVersion.map { "\tfrom \($0)" } ?? "")
        }.joined(separator: "\n"))
    }
}

struct EventsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "events", abstract: "List what machines reported, oldest first.")
    @Option(help: "Only this machine's.") var machine: String?
    @Option(help: "At most this many, the latest.") var limit: Int = 1000
    @OptionGroup var server: ServerOptions
    @OptionGroup var format: OutputOptions

    func run() throws {
        let events = try server.call { [machine, limit] in try await $0.events(machineID: machine, limit: limit) }
        try format.print(events, text: events.map {
            "\($0.time)\t\($0.machineID)\t\($0.version)\tevent \($0.type)/\($0.result)" + ($0.errorCode.map { " error \($0)" } ?? "")
        }.joined(separator: "\n"))
    }
}

/// A duration on the command line: seconds, or a number with s, m, h or d.
struct Seconds: ExpressibleByArgument, Sendable {
    let value: Int64

    init(_ value: Int64) { self.value = value }

    init?(argument: String) {
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        var number = Substring(argument), unit: Int64 = 1
        if let last = argument.last, let multiplier = units[last] {
            number = number.dropLast()
            unit = multiplier
        }
        guard let count = Int64(number), count > 0, count <= Int64.max / unit else { return nil }
        value = count * unit
    }

    var defaultValueDescription: String { "\(value)s" }
}

/// Runs async work from a synchronous command (the CLI's commands are synchronous; the main
/// thread waits while the work runs on the concurrency pool).
func runBlocking<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) throws -> T {
    let outcome = Outcome<T>(), done = DispatchSemaphore(value: 0)
    Task {
        do { outcome.result = .success(try await work()) } catch { outcome.result = .failure(error) }
        done.signal()
    }
    done.wait()
    return try outcome.result!.get()
}

/// Written by the task before the semaphore is signalled, read after the wait.
private final class Outcome<T>: @unchecked Sendable {
    var result: Result<T, Error>?
}
