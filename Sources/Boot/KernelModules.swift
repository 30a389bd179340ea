import Foundation
import Support

/// The kernel's module index (`lib/modules/<version>/modules.dep` and `modules.builtin`), used to
/// pick the modules an initramfs needs together with everything they depend on.
public struct KernelModules: Sendable {
    /// One loadable module: its name as modprobe takes it and its path relative to the module directory.
    public struct Module: Sendable, Equatable {
        public let name: String
        public let path: String
        /// Paths of every module this one needs, as modules.dep lists them.
        public let dependencyPaths: [String]

        /// This module's line in a modules.dep.
        public var depLine: String {
            dependencyPaths.isEmpty ? "\(path):" : "\(path): \(dependencyPaths.joined(separator: " "))"
        }
    }

    public let directory: URL
    private let modules: [String: Module]
    private let builtin: Set<String>

    /// Reads the index below `directory` (`<root>/usr/lib/modules/<version>`).
    public init(directory: URL) throws {
        self.directory = directory
        let depURL = directory.appendingPathComponent("modules.dep")
        guard let dep = try? String(contentsOf: depURL, encoding: .utf8) else {
            throw SupportError(file: depURL.path, "missing: the kernel recipe installed no module index")
        }
        var modules: [String: Module] = [:]
        for line in dep.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let path = String(line[..<colon])
            let dependencies = line[line.index(after: colon)...].split(separator: " ").map(String.init)
            let name = Self.moduleName(ofPath: path)
            modules[name] = Module(name: name, path: path, dependencyPaths: dependencies)
        }
        let builtinText = (try? String(contentsOf: directory.appendingPathComponent("modules.builtin"), encoding: .utf8)) ?? ""
        self.modules = modules
        self.builtin = Set(builtinText.split(separator: "\n").map { Self.moduleName(ofPath: String($0)) })
    }

    /// modprobe treats `-` and `_` alike; `kernel/drivers/md/dm-verity.ko` is `dm_verity`.
    public static func moduleName(ofPath path: String) -> String {
        var name = (path as NSString).lastPathComponent
        for suffix in [".ko.zst", ".ko.xz", ".ko.gz", ".ko"] where name.hasSuffix(suffix) {
            name.removeLast(suffix.count)
            break
        }
        return name.replacingOccurrences(of: "-", with: "_")
    }

    /// The requested modules and their dependencies, each after what it depends on. Modules built
    /// into the kernel are skipped; a name that is neither is an error.
    public func closure(of requested: [String]) throws -> [Module] {
        var ordered: [Module] = []
        var seen: Set<String> = []
        func visit(_ name: String) throws {
            let key = name.replacingOccurrences(of: "-", with: "_")
            guard !seen.contains(key) else { return }
            seen.insert(key)
            guard let module = modules[key] else {
                if builtin.contains(key) { return }
                throw SupportError("kernel module '\(name)' is neither a module nor built into the kernel "
                                   + "(\(directory.lastPathComponent)); check 'initramfs-modules' in the board")
            }
            for dependency in module.dependencyPaths { try visit(Self.moduleName(ofPath: dependency)) }
            ordered.append(module)
        }
        for name in requested { try visit(name) }
        return ordered
    }
}
