//! permessage-deflate negotiation tables (RFC 7692 §7.1).

use ws13_handshake::extensions::parse_extensions;
use ws13_handshake::permessage_deflate::{
    DeflateClientPolicy, DeflateParamError, DeflateParams, DeflateServerPolicy, negotiate,
};

fn server(offer: &str, policy: DeflateServerPolicy) -> Option<(DeflateParams, String)> {
    negotiate(&parse_extensions(offer).unwrap(), &policy)
}

fn params(snct: bool, cnct: bool, server_bits: u8, client_bits: u8) -> DeflateParams {
    DeflateParams {
        server_no_context_takeover: snct,
        client_no_context_takeover: cnct,
        server_max_window_bits: server_bits,
        client_max_window_bits: client_bits,
    }
}

#[test]
fn server_answers_each_valid_offer_with_the_agreed_parameters() {
    let default = DeflateServerPolicy::default();
    let table: &[(&str, DeflateParams, &str)] = &[
        (
            "permessage-deflate",
            params(false, false, 15, 15),
            "permessage-deflate",
        ),
        (
            "permessage-deflate; client_max_window_bits",
            params(false, false, 15, 15),
            "permessage-deflate",
        ),
        (
            "permessage-deflate; server_no_context_takeover",
            params(true, false, 15, 15),
            "permessage-deflate; server_no_context_takeover",
        ),
        (
            "permessage-deflate; client_no_context_takeover",
            params(false, true, 15, 15),
            "permessage-deflate; client_no_context_takeover",
        ),
        (
            "permessage-deflate; server_max_window_bits=9",
            params(false, false, 9, 15),
            "permessage-deflate; server_max_window_bits=9",
        ),
        (
            "permessage-deflate; server_max_window_bits=8",
            params(false, false, 8, 15),
            "permessage-deflate; server_max_window_bits=8",
        ),
        (
            "permessage-deflate; client_max_window_bits=10",
            params(false, false, 15, 10),
            "permessage-deflate; client_max_window_bits=10",
        ),
        (
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=12; client_max_window_bits=\"11\"",
            params(true, true, 12, 11),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=12; client_max_window_bits=11",
        ),
    ];
    for (offer, expected, answer) in table {
        let (got, got_answer) =
            server(offer, default).unwrap_or_else(|| panic!("declined {offer}"));
        assert_eq!(&got, expected, "{offer}");
        assert_eq!(&got_answer, answer, "{offer}");
    }
}

#[test]
fn server_declines_malformed_offers_and_takes_the_next() {
    let malformed = [
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=010",
        "permessage-deflate; client_max_window_bits=abc",
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate; client_max_window_bits; client_max_window_bits=9",
        "permessage-deflate; mystery",
    ];
    for offer in malformed {
        assert_eq!(
            server(offer, DeflateServerPolicy::default()),
            None,
            "{offer}"
        );
        let with_fallback = format!("{offer}, permessage-deflate; client_no_context_takeover");
        let (params, _) = server(&with_fallback, DeflateServerPolicy::default()).unwrap();
        assert!(params.client_no_context_takeover, "{with_fallback}");
    }
}

#[test]
fn server_policy_limits_what_it_accepts() {
    let policy = DeflateServerPolicy {
        server_max_window_bits: 10,
        server_no_context_takeover: true,
        client_no_context_takeover: true,
        client_max_window_bits: 12,
    };
    let (agreed, answer) = server("permessage-deflate; client_max_window_bits", policy).unwrap();
    assert_eq!(agreed, params(true, true, 10, 12));
    assert_eq!(
        answer,
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
         server_max_window_bits=10; client_max_window_bits=12"
    );
    // A client that cannot limit its window is not asked to.
    let (agreed, answer) = server("permessage-deflate", policy).unwrap();
    assert_eq!(agreed.client_max_window_bits, 15);
    assert!(!answer.contains("client_max_window_bits"), "{answer}");
}

#[test]
fn other_extensions_are_ignored_by_the_deflate_negotiation() {
    assert_eq!(
        server("x-webkit-deflate-frame", DeflateServerPolicy::default()),
        None
    );
}

fn client_accept(
    policy: DeflateClientPolicy,
    response: &str,
) -> Result<DeflateParams, DeflateParamError> {
    let parsed = parse_extensions(response).unwrap();
    policy.accept(&parsed[0])
}

#[test]
fn client_offer_is_well_formed_and_negotiable() {
    let policy = DeflateClientPolicy {
        server_no_context_takeover: true,
        client_no_context_takeover: false,
        server_max_window_bits: Some(10),
    };
    let offer = policy.offer();
    assert_eq!(
        offer,
        "permessage-deflate; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits"
    );
    let (agreed, answer) = server(&offer, DeflateServerPolicy::default()).unwrap();
    assert_eq!(client_accept(policy, &answer), Ok(agreed));
}

#[test]
fn client_accepts_valid_responses() {
    let policy = DeflateClientPolicy::default();
    assert_eq!(
        client_accept(policy, "permessage-deflate"),
        Ok(params(false, false, 15, 15))
    );
    assert_eq!(
        client_accept(
            policy,
            "permessage-deflate; client_max_window_bits=9; client_no_context_takeover"
        ),
        Ok(params(false, true, 15, 9))
    );
    assert_eq!(
        client_accept(
            policy,
            "permessage-deflate; server_max_window_bits=12; server_no_context_takeover"
        ),
        Ok(params(true, false, 12, 15))
    );
}

#[test]
fn client_fails_malformed_or_disobedient_responses() {
    let strict = DeflateClientPolicy {
        server_no_context_takeover: true,
        client_no_context_takeover: false,
        server_max_window_bits: Some(10),
    };
    let cases: &[(DeflateClientPolicy, &str)] = &[
        (
            DeflateClientPolicy::default(),
            "permessage-deflate; client_max_window_bits",
        ),
        (
            DeflateClientPolicy::default(),
            "permessage-deflate; server_max_window_bits=20",
        ),
        (
            DeflateClientPolicy::default(),
            "permessage-deflate; unknown=1",
        ),
        (
            DeflateClientPolicy::default(),
            "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
        ),
        (strict, "permessage-deflate; server_max_window_bits=10"),
        (strict, "permessage-deflate; server_no_context_takeover"),
        (
            strict,
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=11",
        ),
    ];
    for (policy, response) in cases {
        let result = client_accept(*policy, response);
        assert!(result.is_err(), "{response} was accepted: {result:?}");
        assert!(!result.unwrap_err().to_string().is_empty());
    }
}
