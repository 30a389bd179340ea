import ArgumentParser
import Build
import Foundation
import Support

struct BuildImageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image",
        abstract: "Build a board's GPT disk image (raw and qcow2), its /usr update image and metadata.",
        discussion: """
        Writes out/<board>/<version>/. Honours SOURCE_DATE_EPOCH (default: the time of the source \
        tree's last git commit). Example: coresdk build image --board amd64-usr --json
        """)

    @OptionGroup var repository: RepositoryOptions

    @Option(help: "The board to build (a file in boards/).")
    var board: String = "amd64-usr"

    @Option(help: "The image version, MAJOR.MINOR.PATCH (default: the VERSION file).")
    var version: String?

    @Option(help: "Where to write <board>/<version>/ (default: out/).")
    var output: String?

    @Option(help: "The build cache (default: <output>/cache).")
    var cacheDir: String?

    @Flag(help: "Let apt choose Debian versions again and rewrite boards/<board>.lock.")
    var updateLock = false

    @Flag(help: "Refuse to build when the mirror no longer has a locked Debian version (checked before installing); by default the mirror's version is installed with a warning and the lock rewritten.")
    var locked = false

    @Option(name: .customLong("apt-source"),
            help: ArgumentHelp("An apt source line used instead of the host's apt sources, e.g. a snapshot mirror: 'deb [check-valid-until=no] URL bookworm main' (repeatable).",
                               valueName: "line"))
    var aptSources: [String] = []

    @Flag(help: "Print the resolved build (recipes, packages, partitions, outputs, tools, each stage's cache key with hit or miss) without building.")
    var dryRun = false

    @OptionGroup var format: OutputOptions

    func validate() throws {
        if locked && updateLock { throw ValidationError("--locked and --update-lock contradict each other") }
    }

    func run() throws {
        let root = repository.repositoryURL
        let outputRoot = output.map { URL(fileURLWithPath: $0).standardizedFileURL }
            ?? root.appendingPathComponent("out")
        let request = ImageRequest(
            repository: root, board: board, version: try version ?? readVersionFile(in: root),
            outputRoot: outputRoot,
            cacheDirectory: cacheDir.map { URL(fileURLWithPath: $0).standardizedFileURL }
                ?? outputRoot.appendingPathComponent("cache"),
            clock: try BuildClock.fromEnvironment(fallback: lastCommitTime(of: root)),
            updateLock: updateLock, locked: locked, aptSources: aptSources)
        let plan = try ImagePlan.resolve(request)
        if dryRun {
            let report = try PlanReport(plan: plan, cache: BuildCache(root: request.cacheDirectory))
            FileHandle.standardOutput.write(format.json ? try report.json() + Data("\n".utf8) : Data(report.text.utf8))
            return
        }
        let report = try ImageBuilder(plan: plan).build()
        if format.json {
            FileHandle.standardOutput.write(try report.json() + Data("\n".utf8))
        } else {
            print("\(report.outputDirectory) (\(String(format: "%.1f", report.totalSeconds)) s, cache hits: \(report.cache.hits.count))")
        }
    }

    private func readVersionFile(in root: URL) throws -> String {
        let url = root.appendingPathComponent("VERSION")
        guard let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw SupportError(file: url.path, "cannot be read, and no --version was given")
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private func lastCommitTime(of root: URL) -> Int {
        let output = try? Command.run(["git", "-C", root.path, "log", "-1", "--format=%ct"])
        return output.flatMap { Int($0.text.trimmingCharacters(in: .whitespacesAndNewlines)) }
            ?? Int(Date().timeIntervalSince1970)
    }
}

/// The filesystems stage of a rootless build, run by `build image` itself as root of a user
/// namespace; not for people.
struct FilesystemsJobCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "filesystems-job", abstract: "Internal: one filesystems stage of a rootless build.",
        shouldDisplay: false)

    @Argument var jobFile: String

    func run() throws {
        try FilesystemJob.assemble(jobFile: URL(fileURLWithPath: jobFile))
    }
}
