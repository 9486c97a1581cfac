import Foundation
import JOSE
import Logging
import TenantRegistry

/// OTP challenges from start to end: creating one under the tenant's current rules and sending its code,
/// resending, and checking a code against the OTP Manager. Expiry, attempts and resends are enforced here,
/// with the budget in the store (atomic reservations), whatever the OTP Manager would accept. Recipients and
/// held login tokens are sealed (AES-256-GCM) before they reach the store.
package struct ChallengeService: Sendable {
    let tenants: TenantService
    let client: OTPManagerClient
    package let policy: OTPPolicy
    /// AES-256-GCM key for the tokens and recipients a challenge holds.
    let sealingKey: [UInt8]
    /// Records each OTP Manager call: operation, outcome and duration (nil: nothing reached the network).
    let recordUpstream: @Sendable (_ operation: String, _ outcome: String, _ duration: Duration?) -> Void
    /// Called with the held tokens (JSON) of a login challenge that died, to end their session at the provider.
    let abandonLogin: @Sendable (_ tenantId: String, _ heldTokens: [UInt8]) async -> Void
    /// The operator's OTP sends per tenant per minute for tenants without their own (0: no limit).
    let otpPerMinuteDefault: @Sendable () -> Int

    /// Who asks, for the audit trail and the request's log lines.
    package struct Requester: Sendable {
        package var actor: String
        package var requestId: String
        package var logger: Logger

        package init(actor: String, requestId: String, logger: Logger) {
            self.actor = actor
            self.requestId = requestId
            self.logger = logger
        }
    }

    package init(
        tenants: TenantService, client: OTPManagerClient, policy: OTPPolicy, sealingKey: [UInt8],
        recordUpstream: @escaping @Sendable (_ operation: String, _ outcome: String, _ duration: Duration?) -> Void,
        abandonLogin: @escaping @Sendable (_ tenantId: String, _ heldTokens: [UInt8]) async -> Void,
        otpPerMinuteDefault: @escaping @Sendable () -> Int = { 0 }
    ) {
        self.otpPerMinuteDefault = otpPerMinuteDefault
        self.tenants = tenants
        self.client = client
        self.policy = policy
        self.sealingKey = sealingKey
        self.recordUpstream = recordUpstream
        self.abandonLogin = abandonLogin
    }

    /// The tenant, if it exists and is active: unknown and deleted tenants are not found, others inactive.
    package func activeTenant(_ tenantId: String) throws(ChallengeError) -> TenantView {
        guard let view = tenants.directory.current.byId[tenantId] else { throw .tenantNotFound }
        let status = view.status(at: tenants.clock())
        guard status == .active else {
            if status == .deleted || status == .purged { throw .tenantNotFound }
            throw .tenantInactive(status)
        }
        return view
    }

    /// The time as this service sees it (the tenant service's clock).
    package var now: Date { tenants.clock() }

    /// Seconds until `challenge` expires (0 when it has).
    package func expiresIn(_ challenge: OTPChallenge) -> Int {
        max(0, Int(challenge.expiresAt.timeIntervalSince(tenants.clock()).rounded(.up)))
    }

    /// Creates a challenge with the tenant's current rules and sends the first code. Nothing is kept when the send
    /// fails. `heldTokens`: a login's tokens (JSON), released only when the code is verified.
    package func start(view: TenantView, purpose: String, recipient: String, heldTokens: [UInt8]? = nil, by requester: Requester) async throws
        -> Sent
    {
        guard let channel = view.twoFA.channelType, let url = view.otpManagerURL, let service = view.twoFA.serviceIdentifier,
            let expiry = view.twoFA.otpExpiry, let limit = view.twoFA.retryLimit
        else { throw ChallengeError.twoFactorIncomplete }
        let now = tenants.clock()
        let quota = try await takeSend(view.tenantId, limits: view.limits, now: now)
        let challengeId = OTPRules.newChallengeId()
        let sealedRecipient = Base64URL.encode(
            Crypto.sealAESGCM(key: sealingKey, plaintext: Array(recipient.utf8), aad: Array(("recipient:" + challengeId).utf8)))
        let sealedTokens = heldTokens.map { Base64URL.encode(Crypto.sealAESGCM(key: sealingKey, plaintext: $0, aad: Array(challengeId.utf8))) }
        var challenge = OTPChallenge(
            challengeId: challengeId, tenantId: view.tenantId, purpose: purpose, channel: channel.rawValue,
            maskedRecipient: OTPRules.mask(recipient, channel), sealedRecipient: sealedRecipient, serviceIdentifier: service, otpManagerURL: url,
            createdAt: now, expiresAt: now.addingTimeInterval(Double(expiry)), maxAttempts: limit, sealedTokens: sealedTokens)
        do {
            try await tenants.store.createChallenge(challenge)
        } catch {
            // Nothing was sent: the send goes back to the tenant's quota.
            await giveBackSend(view.tenantId, quota, logger: requester.logger)
            throw error
        }
        let start = ContinuousClock.now
        do {
            challenge.otpId = try await client.generate(
                tenantId: view.tenantId, baseURL: url, fields: sendFields(challenge, recipient: recipient, now: now),
                idempotencyKey: "\(challengeId)-1", requestId: requester.requestId)
            recordUpstream("generate", "success", ContinuousClock.now - start)
        } catch {
            let duration = ContinuousClock.now - start
            try? await tenants.store.deleteChallenge(challengeId)
            if Self.neverSent(error) { await giveBackSend(view.tenantId, quota, logger: requester.logger) }
            throw await upstreamFailure(error, operation: "generate", duration: duration, challenge: challenge, by: requester)
        }
        if let otpId = challenge.otpId {
            do {
                try await tenants.store.setChallengeOTPId(challengeId, otpId: otpId)
            } catch {
                // The code went out but the challenge cannot check it: end the challenge rather than leave it holding tokens.
                try? await tenants.store.deleteChallenge(challengeId)
                throw error
            }
        }
        requester.logger.info(
            "OTP sent", metadata: ["challenge": .string(challengeId), "recipient": .string(challenge.maskedRecipient), "channel": .string(channel.rawValue)])
        await audit("otp.sent", challenge, by: requester)
        return Sent(challenge: challenge, quota: quota)
    }

    /// A challenge whose code was just sent, and what the send left of the tenant's OTP quota (nil: no limit).
    package struct Sent: Sendable {
        package let challenge: OTPChallenge
        package let quota: EventQuota?
    }

    /// Sends a login challenge's code again, within the resend limit and spacing; the challenge with its new send count.
    package func resend(tenantId: String, challengeId: String, by requester: Requester) async throws -> Sent {
        let challenge = try await live(tenantId: tenantId, challengeId: challengeId, login: true, by: requester)
        let now = tenants.clock()
        guard let sends = try await tenants.store.reserveResend(challengeId, now: now, maxSends: 1 + policy.resendLimit, spacing: policy.resendSpacing) else {
            // Tell why: the challenge may have ended or expired since it was read.
            guard let current = try await tenants.store.challenge(challengeId), current.state != .verified else { throw ChallengeError.notFound }
            if current.state == .exhausted { throw ChallengeError.exhausted }
            if current.expiresAt <= now { throw ChallengeError.expired }
            if current.sends >= 1 + policy.resendLimit { throw ChallengeError.resendLimitReached(sends: current.sends) }
            let wait = max(1, Int((current.lastSentAt.timeIntervalSince1970 + policy.resendSpacing - now.timeIntervalSince1970).rounded(.up)))
            throw ChallengeError.resendTooSoon(retryAfter: wait)
        }
        let quota: EventQuota?
        do {
            quota = try await takeSend(tenantId, limits: tenants.directory.tenant(id: tenantId)?.limits ?? TenantLimits(), now: now)
        } catch {
            try? await tenants.store.refundResend(challengeId, previousSentAt: challenge.lastSentAt)
            throw error
        }
        guard let sealed = challenge.sealedRecipient.flatMap({ Base64URL.decode($0) }),
            let recipient = Crypto.openAESGCM(key: sealingKey, sealed: sealed, aad: Array(("recipient:" + challengeId).utf8))
        else {
            try await tenants.store.refundResend(challengeId, previousSentAt: challenge.lastSentAt)
            await giveBackSend(tenantId, quota, logger: requester.logger)
            throw ChallengeError.recipientSealed
        }
        let start = ContinuousClock.now
        do {
            let otpId = try await client.generate(
                tenantId: tenantId, baseURL: challenge.otpManagerURL,
                fields: sendFields(challenge, recipient: String(decoding: recipient, as: UTF8.self), now: now),
                idempotencyKey: "\(challengeId)-\(sends)", requestId: requester.requestId)
            recordUpstream("generate", "success", ContinuousClock.now - start)
            if let otpId { try await tenants.store.setChallengeOTPId(challengeId, otpId: otpId) }
        } catch {
            let duration = ContinuousClock.now - start
            try? await tenants.store.refundResend(challengeId, previousSentAt: challenge.lastSentAt)
            if Self.neverSent(error) { await giveBackSend(tenantId, quota, logger: requester.logger) }
            throw await upstreamFailure(error, operation: "generate", duration: duration, challenge: challenge, by: requester)
        }
        await audit("otp.resent", challenge, by: requester)
        var updated = challenge
        updated.sends = sends
        return Sent(challenge: updated, quota: quota)
    }

    /// Takes one send from the tenant's OTP quota, shared through the store by every instance; throws
    /// `rateLimited` when it is used up (a refused send writes nothing). Nil when the tenant has no limit.
    func takeSend(_ tenantId: String, limits: TenantLimits, now: Date) async throws -> EventQuota? {
        let limit = limits.otpPerMinute ?? otpPerMinuteDefault()
        guard limit > 0 else { return nil }
        let quota = try await tenants.store.takeEvent(Self.sendKey(tenantId), limit: limit, window: 60, now: now)
        guard quota.taken else { throw ChallengeError.rateLimited(limit: limit, retryAfter: quota.secondsLeft(from: now)) }
        return quota
    }

    /// The store key of a tenant's OTP send counter.
    package static func sendKey(_ tenantId: String) -> String { "otp:" + tenantId }

    /// Gives a send that never reached the OTP Manager back to the tenant's quota (best effort: a send that
    /// cannot be given back stays counted, the safe direction).
    private func giveBackSend(_ tenantId: String, _ quota: EventQuota?, logger: Logger) async {
        guard let quota else { return }
        do {
            try await tenants.store.giveBackEvent(Self.sendKey(tenantId), quota)
        } catch {
            logger.warning("an OTP send that never happened could not be given back to the tenant's quota", metadata: ["error": .string("\(error)")])
        }
    }

    /// Whether a failed send certainly sent no code: it never left the broker (open circuit, too many in
    /// flight) or the OTP Manager refused it. A timeout or a 5xx may have sent one, and stays counted.
    static func neverSent(_ error: any Error) -> Bool {
        switch error as? OTPUpstreamFailure {
        case .notSent?, .rejected?: true
        default: false
        }
    }

    /// Spends one attempt (atomically, before the OTP Manager is asked) and checks the code. Returns the
    /// challenge, now verified; throws `wrongOTP`, `expired`, `exhausted`, `notFound` or `upstream` otherwise.
    package func check(tenantId: String, challengeId: String, otp: String, login: Bool, by requester: Requester) async throws -> OTPChallenge {
        guard OTPRules.isOTP(otp) else { throw ChallengeError.malformedOTP }
        let challenge = try await live(tenantId: tenantId, challengeId: challengeId, login: login, by: requester)
        guard let used = try await tenants.store.reserveAttempt(challengeId, now: tenants.clock()) else {
            // Lost a race: the last attempt went to a parallel guess, or the challenge just expired.
            let current = try await tenants.store.challenge(challengeId) ?? challenge
            if current.expiresAt <= tenants.clock() { throw ChallengeError.expired }
            if current.state == .verified { throw ChallengeError.notFound }
            throw ChallengeError.exhausted
        }
        var fields: [String: JSONValue] = ["tenantId": .string(tenantId), "reference": .string(challengeId), "otp": .string(otp)]
        if let otpId = challenge.otpId { fields["otpId"] = .string(otpId) }
        let valid: Bool
        let start = ContinuousClock.now
        do {
            valid = try await client.verify(tenantId: tenantId, baseURL: challenge.otpManagerURL, fields: fields, requestId: requester.requestId)
            recordUpstream("verify", valid ? "valid" : "invalid", ContinuousClock.now - start)
        } catch {
            let duration = ContinuousClock.now - start
            // The OTP Manager never judged the code: the user keeps the attempt.
            try? await tenants.store.refundAttempt(challengeId)
            throw await upstreamFailure(error, operation: "verify", duration: duration, challenge: challenge, by: requester)
        }
        let remaining = max(0, challenge.maxAttempts - used)
        if valid {
            guard try await tenants.store.finishChallenge(challengeId, as: .verified) else { throw ChallengeError.notFound }
            requester.logger.info("OTP verified", metadata: ["challenge": .string(challengeId)])
            await audit("otp.verified", challenge, by: requester)
            return challenge
        }
        requester.logger.notice("wrong OTP", metadata: ["challenge": .string(challengeId), "attempts_remaining": .stringConvertible(remaining)])
        await audit("otp.failed", challenge, by: requester, outcome: "failure")
        if remaining == 0, try await tenants.store.finishChallenge(challengeId, as: .exhausted) {
            await audit("otp.exhausted", challenge, by: requester, outcome: "failure")
            if challenge.purpose == OTPRules.loginPurpose, let held = try? heldTokens(of: challenge) { await abandonLogin(challenge.tenantId, held) }
        }
        throw ChallengeError.wrongOTP(remaining: remaining)
    }

    /// The tokens (JSON) a login challenge holds, opened; `heldTokensSealed` when this instance cannot open them.
    package func heldTokens(of challenge: OTPChallenge) throws(ChallengeError) -> [UInt8] {
        guard let sealed = challenge.sealedTokens.flatMap({ Base64URL.decode($0) }),
            let plain = Crypto.openAESGCM(key: sealingKey, sealed: sealed, aad: Array(challenge.challengeId.utf8))
        else { throw .heldTokensSealed }
        return plain
    }

    func sendFields(_ challenge: OTPChallenge, recipient: String, now: Date) -> [String: JSONValue] {
        [
            "tenantId": .string(challenge.tenantId), "channelType": .string(challenge.channel), "serviceIdentifier": .string(challenge.serviceIdentifier),
            "recipient": .string(recipient), "expirySeconds": .int(Int64(max(1, challenge.expiresAt.timeIntervalSince(now).rounded(.up)))),
            "reference": .string(challenge.challengeId),
        ]
    }

    /// The challenge if it belongs to this tenant and flow and is still alive.
    func live(tenantId: String, challengeId: String, login: Bool, by requester: Requester) async throws -> OTPChallenge {
        guard OTPRules.isChallengeId(challengeId), let challenge = try await tenants.store.challenge(challengeId), challenge.tenantId == tenantId,
            (challenge.purpose == OTPRules.loginPurpose) == login
        else { throw ChallengeError.notFound }
        switch challenge.state {
        case .verified: throw ChallengeError.notFound
        case .exhausted: throw ChallengeError.exhausted
        case .pending: break
        }
        if challenge.expiresAt <= tenants.clock() {
            await audit("otp.expired", challenge, by: requester)
            throw ChallengeError.expired
        }
        return challenge
    }

    /// A failed OTP Manager operation that took `duration`: counted, timed (unless nothing was sent), logged and audited.
    func upstreamFailure(_ error: any Error, operation: String, duration: Duration, challenge: OTPChallenge, by requester: Requester) async
        -> ChallengeError
    {
        let failure = error as? OTPUpstreamFailure ?? .unavailable("\(type(of: error))")
        recordUpstream(operation, failure == .timeout ? "timeout" : "error", failure.wasSent ? duration : nil)
        requester.logger.error(
            "OTP Manager call failed",
            metadata: ["challenge": .string(challenge.challengeId), "operation": .string(operation), "reason": .string("\(failure)")])
        await audit("otp.upstream_error", challenge, by: requester, outcome: "failure")
        return .upstream(failure)
    }

    func audit(_ action: String, _ challenge: OTPChallenge, by requester: Requester, outcome: String = "success") async {
        let event = AuditEvent(
            at: tenants.clock(), actor: requester.actor, action: "\(action):\(challenge.challengeId)", tenantId: challenge.tenantId, outcome: outcome,
            requestId: requester.requestId)
        do {
            try await tenants.store.append(event)
        } catch {
            requester.logger.warning("audit event not written", metadata: ["action": .string(action), "error": .string("\(error)")])
        }
    }
}
