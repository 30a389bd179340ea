import Archive
import Disk
import Foundation
import Recipes
import Rootfs
import Support

/// A stage's two keys. `input` digests only what the stage is made from (board, recipes, overlays,
/// lock, version, epoch) and seeds the image's stable UUIDs and salts, so outputs depend on inputs
/// alone; `cache` adds what makes it — coresdk's own code and the host tools' bytes and versions —
/// and names the cache entry, so a changed producer never reuses an old result.
public struct StageKey: Sendable, Codable, Equatable {
    public let input: String
    public let cache: String

    static func make(_ kind: String, upstream: [StageKey] = [], producers: [ToolIdentity], code: String,
                     libraries: [String: String] = [:], inputs: (inout ContentKey) throws -> Void) rethrows -> StageKey {
        var input = ContentKey("\(kind)-input-v2")
        try inputs(&input)
        for (index, key) in upstream.enumerated() { input.add("upstream\(index)", key.input) }
        let inputValue = input.value
        var cache = ContentKey("\(kind)-cache-v2")
        cache.add("input", inputValue)
        cache.add("coresdk", code)
        for tool in producers { cache.add("tool:\(tool.name)", "\(tool.sha256) \(tool.version)") }
        for (name, version) in libraries.sorted(by: { $0.key < $1.key }) { cache.add("library:\(name)", version) }
        for (index, key) in upstream.enumerated() { cache.add("upstream\(index)", key.cache) }
        return StageKey(input: inputValue, cache: cache.value)
    }
}

/// The resolved build — recipes in order, the Debian request, partitions, outputs and every
/// stage's key — computed once from the request without touching the cache or the network.
/// `--dry-run` prints it; ImageBuilder executes it.
public struct ImagePlan: Sendable {
    public let request: ImageRequest
    public let board: Board
    public let recipes: BuildPlan
    public let partitions: [DiskPlanner.Partition]
    public let naming: OutputNaming
    public let outputDirectory: URL
    public let lockURL: URL
    public private(set) var bootstrap: DebianBootstrap
    /// The digest of the running coresdk.
    public let code: String
    public let tools: ToolRegistry
    /// Digest of this Swift package's sources, when a recipe builds `swift-products` from it.
    public let swiftSources: String?
    public private(set) var keys: Keys

    public struct Keys: Sendable {
        public var debian: StageKey
        /// Every recipe, by name (debian recipes too: their text is an input of the image).
        public var components: [String: StageKey]
        public var filesystems: StageKey
        public var disk: StageKey
    }

    /// Tools the filesystems stage runs for this board.
    var filesystemTools: [String] {
        [board.usr.filesystem == .squashfs ? "mksquashfs" : "mkfs.erofs", "veritysetup", "mke2fs", "debugfs",
         "mkfs.vfat", "mmd", "mcopy", "cp"]
    }

    var diskTools: [String] { board.outputs.contains(.qcow2) ? ["qemu-img", "cp"] : ["cp"] }

    public static func resolve(_ request: ImageRequest) throws -> ImagePlan {
        let repository = RecipeRepository(root: request.repository)
        let board = try repository.loadBoard(named: request.board)
        let recipes = try repository.plan(board: board)
        let partitions = try DiskPlanner.partitionSpecs(for: board)
        _ = try ReleaseFiles.versionText(prefix: board.imagePrefix, version: request.version,
                                         board: board.name, sdkVersion: coresdkVersion)
        let lockURL = request.repository.appendingPathComponent("boards/\(board.name).lock")
        let lock = request.updateLock ? PackageLock(packages: []) : try PackageLock.load(lockURL)
        let sourceLines = request.aptSources.isEmpty ? board.aptSources : request.aptSources
        let sources = try sourceLines.isEmpty ? DebianBootstrap.AptSources.fromHost()
            : DebianBootstrap.AptSources.lines(sourceLines)
        let bootstrap = DebianBootstrap(packages: recipes.recipes.filter { $0.kind == .debian }.flatMap(\.packages),
                                        lock: lock, sources: sources, architecture: board.arch.rawValue)
        let swiftSources = try recipes.recipes.contains { !$0.swiftProducts.isEmpty }
            ? SwiftProducts.sourceDigest(packageRoot: SwiftProducts.packageRoot(of: request.repository)) : nil
        let tools = ToolRegistry()
        let code = try CodeIdentity.digest()
        let placeholder = StageKey(input: "", cache: "")
        var plan = ImagePlan(request: request, board: board, recipes: recipes, partitions: partitions,
                             naming: OutputNaming(prefix: board.imagePrefix),
                             outputDirectory: request.outputRoot.appendingPathComponent(board.name)
                                 .appendingPathComponent(request.version),
                             lockURL: lockURL, bootstrap: bootstrap, code: code, tools: tools,
                             swiftSources: swiftSources,
                             keys: Keys(debian: placeholder, components: [:], filesystems: placeholder, disk: placeholder))
        try plan.computeKeys()
        return plan
    }

    /// The same plan with the Debian stage pinned to `lock` (what a drifted build installed), and
    /// every key that depends on it recomputed.
    func repinned(to lock: PackageLock) throws -> ImagePlan {
        var plan = self
        plan.bootstrap = bootstrap.pinning(lock)
        try plan.computeKeys()
        return plan
    }

    private mutating func computeKeys() throws {
        let debian = StageKey.make("debian", producers: try tools.identities(of: DebianBootstrap.tools), code: code) {
            $0.add("bootstrap", bootstrap.inputKey)
        }
        var components: [String: StageKey] = [:]
        for recipe in recipes.recipes {
            let dependencies = recipes.dependencyClosure(of: recipe.name).compactMap { components[$0] }
            let builder = ComponentBuilder(recipe: recipe, architecture: board.arch.rawValue)
            var producerNames = recipe.buildTools
            if !recipe.swiftProducts.isEmpty { producerNames += SwiftProducts.tools }
            let producers: [ToolIdentity]
            do {
                producers = try tools.identities(of: producerNames)
            } catch {
                throw SupportError(file: recipe.fileURL.path, "recipe '\(recipe.name)' needs a host tool: \(error)")
            }
            components[recipe.name] = try StageKey.make(
                "component", upstream: [debian] + dependencies, producers: producers, code: code
            ) { key in
                try builder.addInputs(to: &key)
                if !recipe.swiftProducts.isEmpty, let swiftSources { key.add("swift-sources", swiftSources) }
            }
        }
        let filesystems = try StageKey.make(
            "filesystems", upstream: [debian] + recipes.recipes.map { components[$0.name]! },
            producers: try tools.identities(of: filesystemTools), code: code,
            libraries: ["libarchive": ArchiveReader.libraryVersion]
        ) { key in
            key.add("board", board.text)
            key.add("version", request.version)
            key.add("epoch", String(request.clock.epoch))
            for overlay in recipes.overlays {
                key.add("overlay:\(overlay.lastPathComponent)", try TreeDigest.digest(of: overlay))
            }
        }
        let disk = StageKey.make("disk", upstream: [filesystems], producers: try tools.identities(of: diskTools),
                                 code: code, libraries: ["libfdisk": FdiskContext.libraryVersion]) {
            $0.add("outputs", board.outputs.map(\.rawValue).joined(separator: " "))
        }
        keys = Keys(debian: debian, components: components, filesystems: filesystems, disk: disk)
    }

    /// Recipes that contribute a tree of their own, in build order.
    var componentRecipes: [Recipe] { recipes.recipes.filter(ComponentBuilder.producesTree) }

    /// Each cached stage with its key, in the order the build runs them.
    var stages: [(name: String, stage: String, key: StageKey)] {
        [("debian", "debian", keys.debian)]
            + componentRecipes.map { ("component:\($0.name)", "component", keys.components[$0.name]!) }
            + [("filesystems", "filesystems", keys.filesystems), ("disk", "disk", keys.disk)]
    }
}

/// What `build image --dry-run` prints: the plan as values, with each stage's hit or miss.
public struct PlanReport: Codable, Sendable {
    public struct RecipeEntry: Codable, Sendable {
        public let name: String
        public let kind: String
        public let version: String?
        public let depends: [String]
        public let packages: [String]
    }
    public struct PartitionEntry: Codable, Sendable {
        public let number: Int
        public let label: String
        public let typeGUID: String
        public let uniqueGUID: String
        public let bytes: UInt64
        public let filesystem: String
    }
    public struct StageEntry: Codable, Sendable {
        public let stage: String
        public let key: String
        public let cached: Bool
    }

    public let board: String
    public let architecture: String
    public let version: String
    public let sourceDateEpoch: Int
    public let outputDirectory: String
    public let recipes: [RecipeEntry]
    public let debianPackages: [String]
    public let lockedPackages: Int
    public let aptSources: String
    public let overlays: [String]
    public let usr: [String: String]
    public let partitions: [PartitionEntry]
    public let diskBytes: UInt64
    public let outputs: [String]
    public let coresdk: String
    public let tools: [ToolIdentity]
    public let stages: [StageEntry]

    public init(plan: ImagePlan, cache: BuildCache) throws {
        board = plan.board.name
        architecture = plan.board.arch.rawValue
        version = plan.request.version
        sourceDateEpoch = plan.request.clock.epoch
        outputDirectory = plan.outputDirectory.path
        recipes = plan.recipes.recipes.map {
            RecipeEntry(name: $0.name, kind: $0.kind.rawValue, version: $0.version, depends: $0.depends, packages: $0.packages)
        }
        debianPackages = plan.bootstrap.packages
        lockedPackages = plan.bootstrap.lock.packages.count
        aptSources = plan.bootstrap.sources.text
        overlays = plan.recipes.overlays.map(\.lastPathComponent)
        usr = ["filesystem": plan.board.usr.filesystem.rawValue, "compression": plan.board.usr.chosenCompression]
        let layout = try DiskPlanner.layout(for: plan.partitions, board: plan.board)
        let roles = Dictionary(uniqueKeysWithValues: plan.partitions.map { ($0.spec.number, $0.role.rawValue) })
        partitions = layout.partitions.map {
            PartitionEntry(number: $0.number, label: $0.label, typeGUID: $0.typeGUID, uniqueGUID: $0.uniqueGUID,
                           bytes: $0.byteCount, filesystem: roles[$0.number] ?? "none")
        }
        diskBytes = layout.totalBytes
        outputs = plan.naming.files(for: plan.board.outputs).map(\.name)
        coresdk = plan.code
        tools = plan.tools.resolvedIdentities
        stages = plan.stages.map {
            StageEntry(stage: $0.name, key: $0.key.cache, cached: cache.lookup(stage: $0.stage, key: $0.key.cache) != nil)
        }
    }

    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    /// The plan as a person reads it.
    public var text: String {
        var lines = ["board \(board) (\(architecture)), version \(version), SOURCE_DATE_EPOCH \(sourceDateEpoch)",
                     "output \(outputDirectory)", "", "recipes, in build order:"]
        for recipe in recipes {
            let packages = recipe.packages.isEmpty ? "" : " [\(recipe.packages.joined(separator: " "))]"
            lines.append("  \(recipe.name) \(recipe.version ?? "-") \(recipe.kind)\(packages)")
        }
        lines.append("debian packages requested: \(debianPackages.count), locked versions: \(lockedPackages)")
        lines.append("apt sources:")
        lines += aptSources.split(separator: "\n").map { "  \($0)" }
        lines.append("overlays: \(overlays.joined(separator: " "))")
        lines.append("/usr: \(usr["filesystem"] ?? "") (\(usr["compression"] ?? ""))")
        lines.append("partitions (disk \(diskBytes) bytes):")
        for partition in partitions {
            lines.append("  \(partition.number) \(partition.label) \(partition.bytes) bytes \(partition.filesystem) "
                         + "type \(partition.typeGUID) guid \(partition.uniqueGUID)")
        }
        lines.append("outputs: \(outputs.joined(separator: " "))")
        lines.append("coresdk \(coresdk)")
        lines.append("tools:")
        lines += tools.map { "  \($0.name) \($0.path) \($0.version.isEmpty ? "" : "(\($0.version)) ")sha256 \($0.sha256.prefix(16))" }
        lines.append("stages:")
        lines += stages.map { "  \($0.stage) \($0.key.prefix(16)) \($0.cached ? "hit" : "miss")" }
        return lines.joined(separator: "\n") + "\n"
    }
}
