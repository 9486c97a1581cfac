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
            if status == .deleted { throw .tenantNotFound }
            throw .tenantInactive(status)
        }
        return view
    }

    /// Seconds until `challenge` expires (0 when it has).
    package func expiresIn(_ challenge: OTPChallenge) -> Int {
        max(0, Int(challenge.expiresAt.timeIntervalSince(tenants.clock()).rounded(.up)))
    }

    /// Creates a challenge with the tenant's current rules and sends the first code. Nothing is kept when the send
    /// fails. `heldTokens`: a login's tokens (JSON), released only when the code is verified.
    package func start(view: TenantView, purpose: String, recipient: String, heldTokens: [UInt8]? = nil, by requester: Requester) async throws
        -> OTPChallenge
    {
        guard let channel = view.twoFA.channelType, let url = view.otpManagerURL, let service = view.twoFA.serviceIdentifier,
            let expiry = view.twoFA.otpExpiry, let limit = view.twoFA.retryLimit
        else { throw ChallengeError.twoFactorIncomplete }
        let now = tenants.clock()
        try await countSend(view.tenantId, limits: view.limits, now: now)
        let challengeId = OTPRules.newChallengeId()
        let sealedRecipient = Base64URL.encode(
            Crypto.sealAESGCM(key: sealingKey, plaintext: Array(recipient.utf8), aad: Array(("recipient:" + challengeId).utf8)))
        let sealedTokens = heldTokens.map { Base64URL.encode(Crypto.sealAESGCM(key: sealingKey, plaintext: $0, aad: Array(challengeId.utf8))) }
        var challenge = OTPChallenge(
            challengeId: challengeId, tenantId: view.tenantId, purpose: purpose, channel: channel.rawValue,
            maskedRecipient: OTPRules.mask(recipient, channel), sealedRecipient: sealedRecipient, serviceIdentifier: service, otpManagerURL: url,
            createdAt: now, expiresAt: now.addingTimeInterval(Double(expiry)), maxAttempts: limit, sealedTokens: sealedTokens)
        try await tenants.store.createChallenge(challenge)
        let start = ContinuousClock.now
        do {
            challenge.otpId = try await client.generate(
                tenantId: view.tenantId, baseURL: url, fields: sendFields(challenge, recipient: recipient, now: now),
                idempotencyKey: "\(challengeId)-1", requestId: requester.requestId)
            recordUpstream("generate", "success", ContinuousClock.now - start)
        } catch {
            let duration = ContinuousClock.now - start
            try? await tenants.store.deleteChallenge(challengeId)
            throw await upstreamFailure(error, operation: "generate", duration: duration, challenge: challenge, by: requester)
        }
        if let otpId = challenge.otpId { try await tenants.store.setChallengeOTPId(challengeId, otpId: otpId) }
        requester.logger.info(
            "OTP sent", metadata: ["challenge": .string(challengeId), "recipient": .string(challenge.maskedRecipient), "channel": .string(channel.rawValue)])
        await audit("otp.sent", challenge, by: requester)
        return challenge
    }

    /// Sends a login challenge's code again, within the resend limit and spacing; the challenge with its new send count.
    package func resend(tenantId: String, challengeId: String, by requester: Requester) async throws -> OTPChallenge {
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
        do {
            try await countSend(tenantId, limits: tenants.directory.tenant(id: tenantId)?.limits ?? TenantLimits(), now: now)
        } catch {
            try? await tenants.store.refundResend(challengeId, previousSentAt: challenge.lastSentAt)
            throw error
        }
        guard let sealed = challenge.sealedRecipient.flatMap({ Base64URL.decode($0) }),
            let recipient = Crypto.openAESGCM(key: sealingKey, sealed: sealed, aad: Array(("recipient:" + challengeId).utf8))
        else {
            try await tenants.store.refundResend(challengeId, previousSentAt: challenge.lastSentAt)
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
            throw await upstreamFailure(error, operation: "generate", duration: duration, challenge: challenge, by: requester)
        }
        await audit("otp.resent", challenge, by: requester)
        var updated = challenge
        updated.sends = sends
        return updated
    }

    /// Counts one send against the tenant's OTP limit, shared through the store by every instance; throws
    /// `rateLimited` past it (the refused send is counted too: a flood does not get through at the next instant).
    func countSend(_ tenantId: String, limits: TenantLimits, now: Date) async throws {
        let limit = limits.otpPerMinute ?? otpPerMinuteDefault()
        guard limit > 0 else { return }
        let (count, ends) = try await tenants.store.countEvent("otp:" + tenantId, window: 60, now: now)
        if count > limit { throw ChallengeError.rateLimited(limit: limit, retryAfter: max(1, Int(ends.timeIntervalSince(now).rounded(.up)))) }
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
