import Foundation

public enum RecipeKind: String, Sendable, CaseIterable {
    /// Packages from the Debian archive, installed in the board's one apt transaction.
    case debian
    /// A build script run in a scratch directory, installing into `$DESTDIR`.
    case source
    /// Plain files only.
    case files
}

/// One component of an image, from `recipes/<name>.yaml`. Every file it names has been checked to
/// exist inside `recipes/<name>/`.
public struct Recipe: Sendable, ConfigModel {
    public internal(set) var name = ""
    public internal(set) var kind = RecipeKind.files
    public internal(set) var version: String?
    public internal(set) var description: String?
    /// The recipes this one needs first, each with where it was written.
    public internal(set) var dependencyEntries: [Located<String>] = []
    public var depends: [String] { dependencyEntries.map(\.value) }
    /// Debian package names (kind debian), without versions.
    public internal(set) var packages: [String] = []
    /// systemd units the packages' maintainer scripts enable that the image leaves off (kind debian).
    public internal(set) var disabledUnitEntries: [Located<String>] = []
    public var disabledUnits: [String] { disabledUnitEntries.map(\.value) }
    /// Normalized paths relative to `directory` (kind source).
    public internal(set) var sources: [String] = []
    /// Folders of `recipes/lib/` copied to `$SRCDIR/lib/<name>/` (kind source); each exists.
    public internal(set) var libraries: [String] = []
    public internal(set) var buildScript: String?
    public internal(set) var buildTools: [String] = []
    /// Executables of this Swift package built for the image (kind source), e.g. the in-image agents.
    public internal(set) var swiftProducts: [String] = []
    public internal(set) var files: [RecipeFile] = []

    /// `recipes/<name>.yaml`.
    public let fileURL: URL
    /// `recipes/<name>/`, where `sources` and `files` are found (it need not exist).
    public let directory: URL
    /// `recipes/lib/<name>/` of each of `libraries`.
    public var libraryDirectories: [(name: String, url: URL)] {
        libraries.map { ($0, Self.libraryFolder(of: directory).appendingPathComponent($0)) }
    }
    /// The file as written, for cache keys.
    public let text: String
    public let location: SourceLocation
    public internal(set) var keyLocations: [String: SourceLocation] = [:]

    init(at mapping: YAMLValue) {
        fileURL = mapping.file.url
        directory = mapping.file.companionDirectory
        text = mapping.file.text
        location = mapping.location
    }

    static var keys: KeyTable<Recipe> {
        KeyTable(context: "recipe", keys: [
            ConfigKey("name", .recipeName, .required,
                      "The recipe's name, the same as its file name (`recipes/<name>.yaml`); not `\(libraryFolderName)`, which is the libraries' folder.", \.name),
            ConfigKey("kind", .choice(RecipeKind.self), .required,
                      "`debian`: packages from the Debian archive; `source`: built by a script; `files`: plain files only.",
                      \.kind),
            ConfigKey("version", .word, .when("required for kinds `source` and `files`; optional for `debian`") {
                $0.kind == .debian ? .optional : .required
            }, "The component's version, shown in the image's package list. Debian package versions come from the board's lock file.",
                      \.version),
            ConfigKey("description", .string, .optional, "What the component is, for people reading the recipe.",
                      \.description),
            ConfigKey("depends", .list(of: .name).unique(), .defaulted("[]"),
                      "Recipes installed before this one; each must exist in `recipes/`.", \.dependencyEntries),
            ConfigKey("packages", ValueType.list(of: .debianPackage, nonEmpty: true).unique().withoutLocations(),
                      .when("required for kind `debian`; not allowed otherwise") {
                $0.kind == .debian ? .required : .forbidden("only recipes of kind debian install packages")
            }, "Debian package names without versions (versions are pinned by the board's lock file).", \.packages),
            ConfigKey("disabled-units", ValueType.list(of: .unitName).unique(),
                      .when("optional for kind `debian`; not allowed otherwise") {
                $0.kind == .debian ? .defaulted("[]") : .forbidden("only the units of Debian packages are enabled by maintainer scripts")
            }, "systemd units the packages enable that should not start at boot: their symlinks under `/etc/systemd/system` are removed (as `systemctl disable` does) and a `disable` preset keeps first boot from enabling them again. A cloud-config `command: start`, a socket or another unit starts them instead.",
                      \.disabledUnitEntries),
            ConfigKey("sources", ValueType.list(of: .recipeFile(allowDirectories: true)).withoutLocations(),
                      sourceOnly(.defaulted("[]")),
                      "Files and folders in `recipes/<name>/` copied into `$SRCDIR` before the build (none for a recipe that only installs its `swift-products`).", \.sources),
            ConfigKey("libraries", ValueType.list(of: .recipeLibrary).unique().withoutLocations(), sourceOnly(.defaulted("[]")),
                      "Folders of `recipes/lib/` (C code several recipes compile, e.g. `gpt`) copied into `$SRCDIR/lib/<name>/` before the build, so `make -C \"$SRCDIR/src\"` finds them at `../lib/<name>`. Their files are part of the recipe's cache key: changing a library rebuilds every recipe that lists it.",
                      \.libraries),
            ConfigKey("build", .string, sourceOnly(.required),
                      "A shell script (`sh -e`) run in a scratch directory with `$SRCDIR` (the sources) and `$DESTDIR` (where to install).",
                      \.buildScript),
            ConfigKey("build-tools", ValueType.list(of: .command).unique().withoutLocations(), sourceOnly(.defaulted("[]")),
                      "Host commands the build needs (e.g. `[cc, make]`), checked to exist before it runs.", \.buildTools),
            ConfigKey("swift-products", ValueType.list(of: .name).unique().withoutLocations(), sourceOnly(.defaulted("[]")),
                      "Executable products of coresdk's own Swift package, built in release mode with the Swift standard library linked statically and stripped, and handed to the build script in `$PRODUCTS`. The recipe's cache key includes each binary's digest.",
                      \.swiftProducts),
            ConfigKey("files", ValueType.list(of: .mapping(RecipeFile.self, doc: "mapping")).withoutLocations(),
                      .defaulted("[]"), "Plain files to install into the image, for any kind; see *`files` entries*.", \.files),
        ])
    }

    /// `recipes/lib/` holds the libraries, so no recipe may be called `lib`.
    static let libraryFolderName = "lib"

    /// `recipes/lib/`, next to the recipe folder `recipes/<name>/`.
    static func libraryFolder(of recipeDirectory: URL) -> URL {
        recipeDirectory.deletingLastPathComponent().appendingPathComponent(libraryFolderName)
    }

    private static func sourceOnly(_ presence: Presence) -> PresenceRule<Recipe> {
        .when("\(presence.doc) for kind `source`; not allowed otherwise") {
            $0.kind == .source ? presence : .forbidden("only recipes of kind source are built")
        }
    }
}

/// One plain file a recipe installs: `{source: files/a.conf, path: /usr/lib/a.conf, mode: "0644"}`.
public struct RecipeFile: Sendable, ConfigModel {
    /// Normalized path relative to the recipe's directory; a regular file there.
    public internal(set) var source = ""
    /// Absolute, normalized destination in the image.
    public internal(set) var path = ""
    /// Permission bits; nil leaves the choice to the builder.
    public internal(set) var mode: UInt32?
    public let location: SourceLocation
    public internal(set) var keyLocations: [String: SourceLocation] = [:]

    init(at mapping: YAMLValue) { location = mapping.location }

    static var keys: KeyTable<RecipeFile> {
        KeyTable(context: "'files' entry", keys: [
            ConfigKey("source", .recipeFile(allowDirectories: false), .required,
                      "The file in `recipes/<name>/` to install.", \.source),
            ConfigKey("path", .imagePath, .required, "Where it goes in the image.", \.path),
            ConfigKey("mode", .octalMode, .optional, "Permission bits, at most `07777`.", \.mode),
        ])
    }
}
