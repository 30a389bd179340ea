import ArgumentParser
import Foundation
import ImageConfig
import Payload
import Support

struct PayloadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "payload",
        abstract: "Make, sign, check, serve and apply CoreOS-style (CrAU v1) update payloads.",
        subcommands: [PayloadGenerateCommand.self, PayloadHashCommand.self, PayloadInsertSignatureCommand.self,
                      PayloadVerifyCommand.self, PayloadOmahaCommand.self, PayloadApplyCommand.self])
}

struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys", abstract: "Signing keys for update payloads.", subcommands: [KeysGenerateCommand.self])
}

/// Prints `value` as pretty JSON on stdout.
func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    FileHandle.standardOutput.write(try encoder.encode(value) + Data("\n".utf8))
}

struct PayloadGenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Make a full update payload of an image's /usr and boot files.",
        discussion: """
        Without --private-key the payload is made for --signatures offline signatures: print the \
        digest with `payload hash`, sign it elsewhere, add the results with `payload insert-signature`.
        """)

    @Option(help: "The new image (raw or qcow2), as built by `coresdk build image`.")
    var image: String

    @Option(name: .customLong("private-key"), help: "A 2048-bit RSA private key (PEM) to sign with; repeat for several (the last is the one clients check).")
    var privateKeys: [String] = []

    @Option(help: "How many signatures the payload will carry when signed offline.")
    var signatures: Int = 1

    @Option(help: "Where to write the payload.")
    var output: String

    @Flag(help: "Print the result as JSON.")
    var json = false

    struct Result: Encodable { let output: String, size: UInt64, partitionSize: UInt64, signed: Bool, digestToSign: String, seconds: Double }

    func run() throws {
        do {
            let keys = try privateKeys.map { try PayloadPrivateKey(contentsOf: URL(fileURLWithPath: $0)) }
            let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("coresdk-payload-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: scratch) }
            let start = Date()
            let source = try UpdateSource.extract(from: URL(fileURLWithPath: image), into: scratch)
            let generator = PayloadGenerator(partitionImage: source.partition, bootFiles: source.bootFiles,
                                             signatureCount: keys.isEmpty ? signatures : keys.count)
            let result = try generator.write(to: URL(fileURLWithPath: output), signingKeys: keys)
            let report = Result(output: output, size: result.size, partitionSize: result.partitionSize, signed: result.signed,
                                digestToSign: Data(result.digestToSign).base64EncodedString(), seconds: Date().timeIntervalSince(start))
            if json { try printJSON(report) } else {
                print("\(output): \(result.size) bytes, \(result.signed ? "signed" : "unsigned (digest to sign: \(report.digestToSign))")")
            }
        } catch {
            throw fail(error, json: json)
        }
    }
}

struct PayloadHashCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hash",
        abstract: "Print the SHA-256 digest a signer must sign (base64), e.g. for an HSM or a signing server.",
        discussion: """
        Sign the raw 32 bytes (--output) with PKCS#1 v1.5 and SHA-256, for example \
        `openssl pkeyutl -sign -inkey key.pem -pkeyopt digest:sha256 -in update.hash -out update.sig`.
        """)

    @Argument(help: "The payload.") var payload: String
    @Option(help: "Also write the raw 32-byte digest to this file.") var output: String?

    func run() throws {
        do {
            let digest = Data(try PayloadVerifier(URL(fileURLWithPath: payload)).digestToSign())
            if let output { try AtomicFile.write(digest, to: URL(fileURLWithPath: output)) }
            print(digest.base64EncodedString())
        } catch {
            throw fail(error, json: false)
        }
    }
}

struct PayloadInsertSignatureCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "insert-signature", abstract: "Add signatures made offline (raw 256-byte RSA signatures) to a payload.")

    @Argument(help: "The payload, changed in place.") var payload: String
    @Option(name: .customLong("signature"), help: "A signature file; repeat in key order (the last is the one clients check).")
    var signatures: [String] = []
    @Option(name: .customLong("public-key"), help: "Check that a signature verifies with this key before inserting.")
    var publicKeys: [String] = []

    func run() throws {
        do {
            guard !signatures.isEmpty else { throw ValidationError("give at least one --signature") }
            let blobs = try signatures.map { [UInt8](try Data(contentsOf: URL(fileURLWithPath: $0))) }
            let keys = try publicKeys.map { try PayloadPublicKey(contentsOf: URL(fileURLWithPath: $0)) }
            try PayloadVerifier.insertSignatures(blobs, into: URL(fileURLWithPath: payload), publicKeys: keys)
            print("\(payload): \(blobs.count) signature(s) inserted")
        } catch {
            throw fail(error, json: false)
        }
    }
}

struct PayloadVerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check a payload: header, manifest, blob order, operation hashes, rebuilt partition and kernel, signature.")

    @Argument(help: "The payload.") var payload: String
    @Option(name: .customLong("public-key"), help: "The public key clients have (PEM); repeat to check several signatures.")
    var publicKeys: [String] = []
    @Flag(help: "Print the result as JSON.") var json = false

    struct Result: Encodable { let payload: String, valid: Bool, size: UInt64, partitionSize: UInt64, operations: Int, procedures: [String], signatures: Int }

    func run() throws {
        do {
            guard !publicKeys.isEmpty else { throw ValidationError("give the --public-key the payload must verify with") }
            let keys = try publicKeys.map { try PayloadPublicKey(contentsOf: URL(fileURLWithPath: $0)) }
            let report = try PayloadVerifier(URL(fileURLWithPath: payload)).verify(publicKeys: keys)
            let result = Result(payload: payload, valid: true, size: report.fileSize, partitionSize: report.partitionSize,
                                operations: report.operations, procedures: report.procedures, signatures: report.signatures)
            if json { try printJSON(result) } else { print("\(payload): valid, signed (\(report.operations) operations, \(report.signatures) signature(s))") }
        } catch {
            throw fail(error, json: json)
        }
    }
}

struct PayloadOmahaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "omaha", abstract: "Print the Omaha v3 update-check response an update server sends for a payload.")

    @Argument(help: "The payload.") var payload: String
    @Option(help: "Where clients download it from (the directory URL; the file name is appended).") var url: String
    @Option(help: "The version it installs (default: the payload's os-release VERSION_ID).") var version: String?
    @Flag(help: "Print the facts as JSON instead of XML.") var json = false

    func run() throws {
        do {
            let offer = try OmahaOffer(payload: URL(fileURLWithPath: payload), codebase: url, version: version)
            if json { try printJSON(offer) } else { print(offer.responseXML, terminator: "") }
        } catch {
            throw fail(error, json: json)
        }
    }
}

struct PayloadApplyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Install a verified payload into an image's inactive USR slot and make it boot next (once, on trial).")

    @Argument(help: "A raw or qcow2 image.") var image: String
    @Argument(help: "The payload.") var payload: String
    @Option(name: .customLong("public-key"), help: "The key the payload must be signed with (PEM).") var publicKeys: [String] = []
    @Flag(help: "Print the result as JSON.") var json = false

    func run() throws {
        do {
            let keys = try publicKeys.map { try PayloadPublicKey(contentsOf: URL(fileURLWithPath: $0)) }
            let result = try PayloadInstaller(image: URL(fileURLWithPath: image)).install(payload: URL(fileURLWithPath: payload), publicKeys: keys)
            if json { try printJSON(result) } else {
                print("\(image): \(result.version ?? "the update") installed in \(result.slot); it boots next (priority \(result.priority), 1 try)")
            }
        } catch {
            throw fail(error, json: json)
        }
    }
}

struct KeysGenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "generate", abstract: "Make a 2048-bit RSA key pair for signing payloads.")

    @Option(name: .customLong("private-key"), help: "Where to write the private key (mode 0600).") var privateKey: String
    @Option(name: .customLong("public-key"), help: "Where to write the public key.") var publicKey: String

    func run() throws {
        do {
            try PayloadPrivateKey.generate(privateKey: URL(fileURLWithPath: privateKey), publicKey: URL(fileURLWithPath: publicKey))
            print("\(privateKey), \(publicKey)")
        } catch {
            throw fail(error, json: false)
        }
    }
}
