import ArgumentParser
import Foundation

@main
struct CoreSDK: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coresdk",
        abstract: "Build, configure and update CoreOS-style Linux images.",
        subcommands: [BuildCommand.self, ValidateCommand.self, InjectCommand.self, PayloadCommand.self, KeysCommand.self,
                      QemuCommand.self])
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

/// Prints a failure the way CI reads it: a message on stderr and, with --json, a JSON object on
/// stdout; then exits non-zero.
func fail(_ error: Error, json: Bool) -> ExitCode {
    let message = String(describing: error)
    FileHandle.standardError.write(Data("coresdk: error: \(message)\n".utf8))
    if json {
        let object = ["error": message]
        if let data = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]) {
            FileHandle.standardOutput.write(data + Data("\n".utf8))
        }
    }
    return ExitCode.failure
}
