import Foundation
import Hummingbird
import HummingbirdTesting
import Omaha
import UpdateServer
import XCTest

/// `coresdk serve` over HTTP as update_engine and `coresdk updates` use it: publishing, Omaha
/// update checks, payload downloads with ranges, the group halting itself, and bad input refused
/// without losing what is stored.
final class UpdateServerTests: XCTestCase {
    func testAMachineIsOfferedThePublishedPayloadAndDownloadsItByRanges() async throws {
        await UpdateServerFixture.forEachStore { fixture in
            let bytes = try Data(contentsOf: fixture.payload)
            try await fixture.live { client in
                let published = try await client.setUpStable(fixture)
                XCTAssertEqual(published.version, "1.2.4", "the version comes from the payload's os-release")
                XCTAssertEqual(published.size, Int64(bytes.count))

                let app = try await client.check("0123456789abcdef0123456789abcdef")
                XCTAssertEqual(app.status, "ok")
                XCTAssertTrue(app.pingAcknowledged)
                XCTAssertEqual(app.eventsAcknowledged, 1)
                guard case .update(let update) = app.updateCheck else { return XCTFail("no update offered: \(app)") }
                XCTAssertEqual(update.version, "1.2.4")
                XCTAssertEqual(update.package.size, UInt64(bytes.count))
                XCTAssertEqual(update.sha256Base64, published.sha256Base64)
                let url = try XCTUnwrap(URL(string: update.codebases[0] + update.package.name))
                XCTAssertEqual(url.scheme, "http", "an absolute URL the machine can fetch")

                try await client.execute(uri: url.path, method: .get) { response in
                    XCTAssertEqual(response.status, .ok)
                    XCTAssertEqual(response.headers[.contentLength], String(bytes.count))
                    XCTAssertEqual(Data(buffer: response.body), bytes)
                }
                // update_engine resumes an interrupted download with "Range: <offset>-".
                try await client.execute(uri: url.path, method: .get, headers: [.range: "bytes=100-"]) { response in
                    XCTAssertEqual(response.status, .partialContent)
                    XCTAssertEqual(response.headers[.contentLength], String(bytes.count - 100))
                    XCTAssertEqual(response.headers[.contentRange], "bytes 100-\(bytes.count - 1)/\(bytes.count)")
                    XCTAssertEqual(Data(buffer: response.body), bytes.dropFirst(100))
                }
                try await client.execute(uri: url.path, method: .get, headers: [.range: "bytes=10-19"]) { response in
                    XCTAssertEqual(response.status, .partialContent)
                    XCTAssertEqual(Data(buffer: response.body), bytes[10..<20])
                }
                try await client.execute(uri: url.path, method: .get, headers: [.range: "bytes=\(bytes.count)-"]) { response in
                    XCTAssertEqual(response.status, .rangeNotSatisfiable)
                    XCTAssertEqual(response.headers[.contentRange], "bytes */\(bytes.count)")
                }
                try await client.execute(uri: url.path.replacingOccurrences(of: published.sha256Hex, with: String(repeating: "0", count: 64)),
                                         method: .get) { XCTAssertEqual($0.status, .notFound) }

                let instances: [Instance] = try await client.api(.get, "/api/instances?group=stable")
                XCTAssertEqual(instances.map(\.status), [.granted])
                XCTAssertEqual(instances.first?.address, "127.0.0.1")

                // A stored file emptied behind the server's back is not served (nor a crash).
                let stored = fixture.scratch.path("server/\(published.directory)\(update.package.name)")
                try Data().write(to: stored)
                try await client.execute(uri: url.path, method: .get) { XCTAssertEqual($0.status, .notFound) }
            }
        }
    }

    func testAPayloadThatDoesNotVerifyWithTheChannelsKeyIsRefusedAndNothingIsKept() async throws {
        await UpdateServerFixture.forEachStore { fixture in
            let foreign = try UpdateServerFixture.payload(version: "6.6.6", signedWith: fixture.otherPrivateKey, in: fixture.scratch)
            try await fixture.live { client in
                _ = try await client.setUpStable(fixture)
                let refusal: APIError = try await client.api(.post, "/api/channels/stable/payloads?name=evil.gz",
                                                              body: try Data(contentsOf: foreign), expect: .badRequest)
                XCTAssertTrue(refusal.error.message.contains("does not verify"), refusal.error.message)
                let channels: [Channel] = try await client.api(.get, "/api/channels")
                XCTAssertEqual(channels.first?.payload?.version, "1.2.4", "the channel still offers what it offered")
                let garbage: APIError = try await client.api(.post, "/api/channels/stable/payloads", body: Data("not a payload".utf8),
                                                              expect: .badRequest)
                XCTAssertTrue(garbage.error.message.contains("not an update payload"), garbage.error.message)
            }
            let incoming = try FileManager.default.contentsOfDirectory(atPath: fixture.scratch.path("server/incoming").path)
            XCTAssertEqual(incoming, [], "refused uploads are removed")
            let stored = try FileManager.default.contentsOfDirectory(atPath: fixture.scratch.path("server/payloads").path)
            XCTAssertEqual(stored.count, 1, "only the good payload is stored")
        }
    }

    func testARollbackHaltsTheGroupUntilItIsResumed() async throws {
        await UpdateServerFixture.forEachStore { fixture in
            try await fixture.live { client in
                _ = try await client.setUpStable(fixture)
                guard case .update = try await client.check("machine-1").updateCheck else { return XCTFail("machine-1 not offered 1.2.4") }
                for event in [OmahaEvent.downloadStarted, .downloadFinished, .installed] {
                    _ = try await client.check("machine-1", events: [event], asks: false)
                }
                // Back on the old version after the new one failed to boot.
                let back = try await client.check("machine-1", events: [.rolledBack])
                XCTAssertEqual(back.updateCheck, .noUpdate)
                let groups: [UpdateGroup] = try await client.api(.get, "/api/groups")
                XCTAssertEqual(groups.first?.status, "halted: machine machine-1 rolled back from 1.2.4 to 1.2.3 (error 44)")
                let answer = try await client.check("machine-2")
                XCTAssertEqual(answer.updateCheck, .noUpdate, "a halted group offers nothing")

                let resumed: UpdateGroup = try await client.api(.post, "/api/groups/stable/resume")
                XCTAssertEqual(resumed.status, "active")
                guard case .update = try await client.check("machine-2").updateCheck else { return XCTFail("not offered after resume") }
                let events: [RecordedEvent] = try await client.api(.get, "/api/events?machine=machine-1")
                XCTAssertEqual(events.map { "\($0.type)/\($0.result)" }, ["13/1", "14/1", "3/1", "3/0"])
                XCTAssertEqual(events.last?.errorCode, OmahaEvent.rolledBack.errorCode)
            }
        }
    }

    func testAnUpdateCompletesWhenTheMachineReportsItsNewVersion() async throws {
        await UpdateServerFixture.forEachStore { fixture in
            try await fixture.live { client in
                _ = try await client.setUpStable(fixture)
                _ = try await client.check("m")
                _ = try await client.check("m", events: [.installed], asks: false)
                let after = try await client.check("m", version: "1.2.4", events: [.updateCheck(previousVersion: "1.2.3")])
                XCTAssertEqual(after.updateCheck, .noUpdate)
                let instances: [Instance] = try await client.api(.get, "/api/instances")
                XCTAssertEqual(instances.first?.status, .complete)
                XCTAssertEqual(instances.first?.previousVersion, "1.2.3")
                XCTAssertEqual(instances.first?.version, "1.2.4")
            }
        }
    }

    func testTheRolloutPolicyGrantsAtMostMPerPeriod() async throws {
        await UpdateServerFixture.forEachStore { fixture in
            try await fixture.live { client in
                _ = try await client.setUpStable(fixture, policy: #", "maxUpdates": 1, "periodSeconds": 600, "updateTimeoutSeconds": 300"#)
                guard case .update = try await client.check("a").updateCheck else { return XCTFail("the first machine is granted") }
                let held = try await client.check("b")
                XCTAssertEqual(held.updateCheck, .noUpdate, "one grant per period")
                // a completes; the period is not over yet
                _ = try await client.check("a", version: "1.2.4", events: [.updateCheck(previousVersion: "1.2.3")])
                let stillHeld = try await client.check("b")
                XCTAssertEqual(stillHeld.updateCheck, .noUpdate)
                fixture.clock.advance(601)
                guard case .update = try await client.check("b").updateCheck else { return XCTFail("b is granted in the next period") }
                let instances: [Instance] = try await client.api(.get, "/api/instances")
                XCTAssertEqual(instances.map(\.status), [.complete, .granted])
            }
        }
    }

    func testBadRequestsGetAnOmahaErrorOrAnHTTPErrorAndLoseNothing() async throws {
        await UpdateServerFixture.forEachStore { fixture in
            try await fixture.live { client in
                _ = try await client.setUpStable(fixture)
                _ = try await client.check("kept")
                let before: [Instance] = try await client.api(.get, "/api/instances")

                let huge = "<request protocol=\"3.0\">" + String(repeating: "<!-- padding -->", count: 5000) + "</request>"
                try await client.execute(uri: "/v1/update/", method: .post, body: ByteBuffer(string: huge)) {
                    XCTAssertEqual($0.status, .contentTooLarge)
                }
                for malformed in ["<request", "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"b\">]><request/>", "",
                                  #"<request protocol="2.0"><app appid="x" machineid="m" version="1.0.0"/></request>"#,
                                  #"<request protocol="3.0"><app appid="{e96281a6-d1af-4bde-9a0a-97b76e56dc57}" machineid="m" version="1.0.0"><event eventtype="x" eventresult="1"/></app></request>"#] {
                    try await client.execute(uri: "/v1/update/", method: .post, body: ByteBuffer(string: malformed)) {
                        XCTAssertEqual($0.status, .badRequest, malformed)
                    }
                }
                try await client.execute(uri: "/v1/update/", method: .get) { XCTAssertEqual($0.status, .methodNotAllowed) }
                let unknownApp = #"<request protocol="3.0"><app appid="{00000000-0000-0000-0000-000000000000}" machineid="m" version="1.0.0" track="stable"><updatecheck/></app></request>"#
                try await client.execute(uri: "/v1/update", method: .post, body: ByteBuffer(string: unknownApp)) { response in
                    XCTAssertEqual(response.status, .ok, "Omaha errors are statuses in an HTTP 200 answer")
                    let app = try OmahaResponse(parsing: String(buffer: response.body)).apps.first
                    XCTAssertEqual(app?.status, OmahaStatus.unknownApplication)
                }
                let noMachine = #"<request protocol="3.0"><app appid="e96281a6-d1af-4bde-9a0a-97b76e56dc57" version="1.0.0"><updatecheck/></app></request>"#
                try await client.execute(uri: "/v1/update", method: .post, body: ByteBuffer(string: noMachine)) { response in
                    XCTAssertEqual(try OmahaResponse(parsing: String(buffer: response.body)).apps.first?.status, "error-invalidMachineID")
                }
                let badJSON: APIError = try await client.api(.put, "/api/groups/stable", json: "{", expect: .badRequest)
                XCTAssertTrue(badJSON.error.message.contains("JSON"), badJSON.error.message)
                let noChannel: APIError = try await client.api(.put, "/api/groups/other", json: #"{"channel": "nope"}"#, expect: .notFound)
                XCTAssertEqual(noChannel.error.message, "no channel nope")
                let badName: APIError = try await client.api(.put, "/api/groups/..", json: #"{"channel": "stable"}"#, expect: .badRequest)
                XCTAssertTrue(badName.error.message.contains("group name"), badName.error.message)
                let badKey: APIError = try await client.api(.post, "/api/channels", json: #"{"name": "x", "publicKey": "nope"}"#,
                                                            expect: .badRequest)
                XCTAssertTrue(badKey.error.message.contains("PEM"), badKey.error.message)

                let after: [Instance] = try await client.api(.get, "/api/instances")
                XCTAssertEqual(after, before, "nothing stored changed")
            }
        }
    }
}

/// The error body of the JSON API.
struct APIError: Decodable {
    struct Message: Decodable { let message: String }
    let error: Message
}
