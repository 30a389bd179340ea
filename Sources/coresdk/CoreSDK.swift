import ArgumentParser
import Foundation
import Support

@main
struct CoreSDK: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coresdk",
        abstract: "Build, configure and update CoreOS-style Linux images.",
        subcommands: [BuildCommand.self, ValidateCommand.self, InjectCommand.self, PayloadCommand.self, KeysCommand.self,
                      QemuCommand.self, ServeCommand.self, UpdatesCommand.self])

    /// Every command's failure ends here and is printed one way: its `ErrorDetails` as text on
    /// stderr and, when the command line has `--json`, as `{"error": {...}}` on stdout. Exit status
    /// 1 for a failure, 64 for a bad command line (with the usage), a command's own `ExitCode` as it is.
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
        } catch {
            report(error, json: arguments.prefix { $0 != "--" }.contains("--json"))
        }
    }

    private static func report(_ error: Error, json: Bool) -> Never {
        let status = exitCode(for: error)
        // --help, --version and a command's deliberate exit status carry no error to report.
        if error is ExitCode || status == .success { exit(withError: error) }
        let usage = status == .validationFailure
        let details = (error as? ReportableError)?.details
            ?? ErrorDetails(message: usage ? message(for: error) : String(describing: error))
        if json { try? OutputOptions.printJSON(["error": details]) }
        if usage { exit(withError: error) }
        FileHandle.standardError.write(Data("coresdk: error: \(details)\n".utf8))
        Foundation.exit(ExitCode.failure.rawValue)
    }
}

/// `--json`, which every command takes: its result as JSON on stdout instead of text, and a
/// failure as `{"error": {...}}` (see `CoreSDK.main`).
struct OutputOptions: ParsableArguments {
    @Flag(help: "Print the result, or the error, as JSON on stdout.")
    var json = false

    /// Prints `value` as JSON with --json, `text` otherwise.
    func print<T: Encodable>(_ value: T, text: @autoclosure () -> String) throws {
        if json { try Self.printJSON(value) } else { Swift.print(text()) }
    }

    static func printJSON<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        FileHandle.standardOutput.write(try encoder.encode(value) + Data("\n".utf8))
    }
}

struct BuildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build", abstract: "Build artifacts.", subcommands: [BuildImageCommand.self, FilesystemsJobCommand.self])
}

/// Options every command that reads the source tree shares.
struct RepositoryOptions: ParsableArguments {
    @Option(name: .customLong("repo"), help: "The coresdk source tree (recipes/, boards/, overlays/).")
    var repository: String = FileManager.default.currentDirectoryPath

    var repositoryURL: URL { URL(fileURLWithPath: repository).standardizedFileURL }
}
