import Archive
import Foundation
import Rootfs
import Support

/// Installs a board's Debian packages in one apt transaction with mmdebstrap (its unshare mode
/// needs no root and runs maintainer scripts), from the mirror and suite the host's apt uses.
public struct DebianBootstrap: Sendable {
    /// The host's apt sources, handed to mmdebstrap as-is so no mirror name lives in the repo.
    public struct AptSources: Sendable {
        public let fileName: String
        public let text: String
        public let suite: String

        public static func fromHost() throws -> AptSources {
            let candidates = ["/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"]
                + ((try? FileManager.default.contentsOfDirectory(atPath: "/etc/apt/sources.list.d")) ?? [])
                .filter { $0.hasSuffix(".sources") || $0.hasSuffix(".list") }.sorted()
                .map { "/etc/apt/sources.list.d/\($0)" }
            for path in candidates {
                guard let text = try? String(contentsOfFile: path, encoding: .utf8),
                      text.contains("debian") else { continue }
                return AptSources(fileName: URL(fileURLWithPath: path).lastPathComponent, text: text,
                                  suite: try hostSuite())
            }
            throw SupportError("no Debian apt source found in /etc/apt; mmdebstrap needs the host's mirror")
        }

        /// Sources given by the board or `--apt-source` (one-line `deb URL SUITE COMPONENTS` entries),
        /// e.g. a snapshot mirror, a dated archive of Debian where a lock's versions stay available.
        public static func lines(_ lines: [String]) throws -> AptSources {
            AptSources(fileName: "coresdk.list", text: lines.joined(separator: "\n") + "\n", suite: try hostSuite())
        }

        static func hostSuite() throws -> String {
            let osRelease = try String(contentsOfFile: "/etc/os-release", encoding: .utf8)
            for line in osRelease.split(separator: "\n") where line.hasPrefix("VERSION_CODENAME=") {
                return String(line.dropFirst("VERSION_CODENAME=".count)).trimmingCharacters(in: .init(charactersIn: "\""))
            }
            throw SupportError("/etc/os-release has no VERSION_CODENAME; cannot choose the Debian suite")
        }
    }

    public let packages: [String]
    public let lock: PackageLock
    public let sources: AptSources
    public let architecture: String

    public init(packages: [String], lock: PackageLock, sources: AptSources, architecture: String) {
        self.packages = Array(Set(packages)).sorted()
        self.lock = lock
        self.sources = sources
        self.architecture = architecture
    }

    /// Options that keep unwanted files out of the install in the first place; coresdk removes
    /// whatever is left afterwards (StatelessImage.makeMinimal).
    static let dpkgOptions = [
        "path-exclude=/usr/share/man/*", "path-exclude=/usr/share/info/*",
        "path-exclude=/usr/share/locale/*", "path-exclude=/usr/share/doc/*",
        "path-include=/usr/share/doc/*/copyright", "path-exclude=/usr/share/lintian/*",
    ]

    /// The tools this stage runs: mmdebstrap drives the host's apt.
    public static let tools = ["mmdebstrap", "apt-get"]

    /// What the package set is made of: the request, the pinned versions and where they come from.
    /// Seeds nothing but cache keys; equal inputs install equal trees.
    public var inputKey: String {
        var key = ContentKey("debian-bootstrap-v2")
        key.add("packages", packages.joined(separator: " "))
        key.add("lock", lock.pins.joined(separator: "\n"))
        key.add("sources", sources.text)
        key.add("suite", sources.suite)
        key.add("arch", architecture)
        key.add("dpkg", Self.dpkgOptions.joined(separator: " "))
        return key.value
    }

    /// The same bootstrap with `lock` pinned instead, e.g. the versions a drifted build installed.
    public func pinning(_ lock: PackageLock) -> DebianBootstrap {
        DebianBootstrap(packages: packages, lock: lock, sources: sources, architecture: architecture)
    }

    /// Locked versions the mirror no longer lists (checked against apt's index, not by installing).
    func unavailableLockedVersions(scratch: URL) throws -> [LockDrift] {
        let index = AptIndex(sources: sources, architecture: architecture)
        let available = try index.availableVersions(of: lock.packages.map(\.name), scratch: scratch)
        return lock.packages.compactMap { package in
            let offered = available[package.name] ?? []
            guard !offered.contains(package.version) else { return nil }
            return LockDrift(name: package.name, locked: package.version,
                             installed: offered.sorted().last ?? "(not in the mirror)")
        }
    }

    /// The packages a bootstrap tarball holds, from its dpkg status file.
    public static func installedPackages(in tarball: URL) throws -> [InstalledPackage] {
        guard let status = try ArchiveReader(file: tarball).contents(of: "./var/lib/dpkg/status") else {
            throw SupportError(file: tarball.path, "no ./var/lib/dpkg/status in the Debian tarball")
        }
        return DebianPackageDatabase.parseStatus(String(decoding: status, as: UTF8.self))
    }

    /// apt preferences that pin every locked package to its locked version: apt still resolves
    /// the set (a package no recipe needs any more is not installed), but picks the locked versions.
    var lockPreferences: String {
        lock.packages.map { "Package: \($0.name)\nPin: version \($0.version)\nPin-Priority: 1001\n" }
            .joined(separator: "\n")
    }

    /// Runs mmdebstrap, writing the rootfs tarball to `tarball`.
    public func run(into tarball: URL, clock: BuildClock) throws {
        let work = try Self.makeWorkDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let sourcesFile = work.appendingPathComponent(sources.fileName)
        try Self.writeReadable(sources.text, to: sourcesFile)
        var arguments = ["mmdebstrap", "--mode=unshare", "--variant=essential", "--quiet",
                         "--architectures=\(architecture)",
                         "--include=\(packages.joined(separator: ","))"]
        if !lock.packages.isEmpty {
            let preferences = work.appendingPathComponent("coresdk-lock.pref")
            try Self.writeReadable(lockPreferences, to: preferences)
            arguments.append("--setup-hook=mkdir -p \"$1/etc/apt/preferences.d\" && "
                             + "cp '\(preferences.path)' \"$1/etc/apt/preferences.d/coresdk-lock.pref\"")
        }
        arguments += Self.dpkgOptions.map { "--dpkgopt=\($0)" }
        arguments += [sources.suite, tarball.path, sourcesFile.path]
        do {
            try Command.run(arguments, environment: ["SOURCE_DATE_EPOCH": String(clock.epoch), "TMPDIR": work.path])
        } catch let failure as CommandFailure {
            throw SupportError("installing Debian packages failed: \(failure)")
        }
    }

    /// Where mmdebstrap keeps its chroot and reads our sources and pins. Without root its unshare
    /// mode works as root of its own namespace, mapped to one of the user's subordinate ids, which
    /// may only pass through world-searchable directories — not a 0700 home or cache. So a fresh
    /// directory in the temporary directory, searchable (0711) but not listable by others.
    static func makeWorkDirectory() throws -> URL {
        let template = FileManager.default.temporaryDirectory.appendingPathComponent("coresdk-mmdebstrap-XXXXXX").path
        var bytes = Array(template.utf8CString)
        guard let created = mkdtemp(&bytes) else {
            throw SupportError("cannot create a directory for mmdebstrap under \(FileManager.default.temporaryDirectory.path): \(String(cString: strerror(errno)))")
        }
        let path = String(cString: created)
        chmod(path, 0o711)
        return URL(fileURLWithPath: path)
    }

    private static func writeReadable(_ text: String, to url: URL) throws {
        try text.write(to: url, atomically: true, encoding: .utf8)
        chmod(url.path, 0o644)
    }
}

/// The resolved Debian package versions of a board, committed next to the board
/// (`boards/<board>.lock`, one `name=version` a line) and honoured by later builds.
public struct PackageLock: Sendable, Equatable {
    public var packages: [InstalledPackage]

    public init(packages: [InstalledPackage]) { self.packages = packages.sorted() }

    /// Two locks are equal when they pin the same versions; the file does not record architectures.
    public static func == (lhs: PackageLock, rhs: PackageLock) -> Bool { lhs.pins == rhs.pins }

    /// `name=version` lines, as the lock file and cache keys hold them.
    var pins: [String] { packages.map { "\($0.name)=\($0.version)" } }

    public static func load(_ url: URL) throws -> PackageLock {
        guard FileManager.default.fileExists(atPath: url.path) else { return PackageLock(packages: []) }
        let text = try String(contentsOf: url, encoding: .utf8)
        var packages: [InstalledPackage] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            let parts = trimmed.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw SupportError(file: url.lastPathComponent, line: index + 1, "expected 'package=version', got '\(trimmed)'")
            }
            let nameAndArch = parts[0].split(separator: ":").map(String.init)
            packages.append(InstalledPackage(name: nameAndArch[0], version: parts[1],
                                             architecture: nameAndArch.count > 1 ? nameAndArch[1] : "any"))
        }
        return PackageLock(packages: packages)
    }

    public func version(of name: String) -> String? { packages.first { $0.name == name }?.version }

    /// Locked packages that were installed at another version: the mirror no longer has the
    /// locked one. Packages that are no longer installed at all are simply dropped from the lock.
    public func drift(from installed: [InstalledPackage]) -> [LockDrift] {
        let installedVersions = Dictionary(installed.map { ($0.name, $0.version) }, uniquingKeysWith: { a, _ in a })
        return packages.compactMap { package in
            guard let now = installedVersions[package.name], now != package.version else { return nil }
            return LockDrift(name: package.name, locked: package.version, installed: now)
        }
    }

    public var serialized: String {
        "# Debian package versions resolved by coresdk; later builds install these while the mirror has them\n"
            + "# (--locked: or fail). Delete a line (or build with --update-lock) to let apt choose again.\n"
            + pins.joined(separator: "\n") + "\n"
    }
}

/// A locked Debian version the build could not install, and what it installed instead.
public struct LockDrift: Sendable, Codable, Equatable {
    public let name: String
    public let locked: String
    public let installed: String

    public var description: String { "\(name): \(locked) → \(installed)" }
}
