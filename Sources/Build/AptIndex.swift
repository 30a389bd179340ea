import Foundation
import Rootfs
import Support

/// The versions the mirror offers today, read from apt's package index in a scratch apt state
/// (never the host's): `--locked` checks the lock against it in seconds, before a minute of
/// mmdebstrap.
struct AptIndex {
    let sources: DebianBootstrap.AptSources
    let architecture: String

    /// Every version of each of `names` that the mirror's index lists.
    func availableVersions(of names: [String], scratch: URL) throws -> [String: Set<String>] {
        let sourceParts = scratch.appendingPathComponent("sources.list.d")
        let lists = scratch.appendingPathComponent("lists")
        try FileManager.default.createDirectory(at: sourceParts, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: lists.appendingPathComponent("partial"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: scratch.appendingPathComponent("cache/archives/partial"),
                                                withIntermediateDirectories: true)
        try sources.text.write(to: sourceParts.appendingPathComponent(sources.fileName), atomically: true, encoding: .utf8)
        let status = scratch.appendingPathComponent("status")
        try Data().write(to: status)
        let options = [
            "Dir::Etc::SourceList=/dev/null", "Dir::Etc::SourceParts=\(sourceParts.path)",
            "Dir::Etc::Preferences=/dev/null", "Dir::Etc::PreferencesParts=/dev/null",
            "Dir::State=\(scratch.path)", "Dir::State::Lists=\(lists.path)", "Dir::State::status=\(status.path)",
            "Dir::Cache=\(scratch.appendingPathComponent("cache").path)",
            "APT::Architecture=\(architecture)", "APT::Architectures=\(architecture)",
            "Debug::NoLocking=true", "Acquire::Languages=none",
        ] + (UserNamespace.isRoot ? [] : ["APT::Sandbox::User=\(NSUserName())"])
        let aptOptions = options.flatMap { ["-o", $0] }
        do {
            try Command.run(["apt-get", "-q"] + aptOptions + ["update"])
        } catch let failure as CommandFailure {
            throw SupportError("reading the Debian mirror's package index failed: \(failure)")
        }
        var versions: [String: Set<String>] = [:]
        for batch in names.sorted().chunked(200) {
            // `madison` lists every version of each package in every configured suite.
            let output = try Command.run(["apt-cache"] + aptOptions + ["madison"] + batch).text
            for line in output.split(separator: "\n") {
                let fields = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
                guard fields.count >= 2 else { continue }
                versions[fields[0], default: []].insert(fields[1])
            }
        }
        return versions
    }
}
