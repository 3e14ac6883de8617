<?php
/**
 * The invoice callback webhook: verify the VOLTXT signature, then apply the event to the order.
 *
 * @package Voltbridge_WooCommerce
 */

defined( 'ABSPATH' ) || exit;

/**
 * Applies signed invoice events to WooCommerce orders. Never moves a paid order backwards.
 */
class Voltbridge_Webhook {

	const META_INVOICE     = '_voltbridge_invoice_number';
	const META_EXTERNAL_ID = '_voltbridge_external_id';
	const META_PAYMENT_URL = '_voltbridge_payment_url';
	const META_EXPIRES_AT  = '_voltbridge_invoice_expires_at';
	const META_EVENTS      = '_voltbridge_events';
	const EVENTS_KEPT      = 50;

	/** @var string */
	private $secret;

	/** @var object|null WC_Logger_Interface */
	private $logger;

	/**
	 * @param string      $secret The store's webhook secret (from the gateway's store settings).
	 * @param object|null $logger wc_get_logger().
	 */
	public function __construct( $secret, $logger = null ) {
		$this->secret = (string) $secret;
		$this->logger = $logger;
	}

	/**
	 * The VOLTXT invoice webhook signature, exactly as the plugin API documents it.
	 *
	 * @param array  $payload Decoded webhook body.
	 * @param string $secret  Webhook secret.
	 * @return string Hex HMAC-SHA256.
	 */
	public static function expected_signature( array $payload, $secret ) {
		$signed = '';
		foreach ( array( 'invoice_number', 'external_invoice_id', 'event_type', 'status', 'network' ) as $field ) {
			$signed .= isset( $payload[ $field ] ) && is_scalar( $payload[ $field ] ) ? (string) $payload[ $field ] : '';
		}
		return hash_hmac( 'sha256', $signed, (string) $secret );
	}

	/**
	 * The WooCommerce order id inside an external invoice id this plugin made ("wc-<order id>-<total hash>").
	 *
	 * @param string $external_id External invoice id.
	 * @return int 0 when the id is not ours.
	 */
	public static function order_id_from_external_id( $external_id ) {
		if ( is_string( $external_id ) && preg_match( '/^wc-(\d+)-[0-9a-f]+(?:-r\d+)?$/', $external_id, $match ) ) {
			return (int) $match[1];
		}
		return 0;
	}

	/**
	 * Handles one webhook body.
	 *
	 * @param string $raw Request body.
	 * @return array{0: int, 1: array} HTTP status and JSON answer.
	 */
	public function handle( $raw ) {
		$payload = json_decode( (string) $raw, true );
		if ( ! is_array( $payload ) ) {
			return array( 400, array( 'result' => 'error', 'message' => 'Invalid JSON' ) );
		}
		if ( '' === $this->secret ) {
			$this->log( 'error', 'Webhook refused: the webhook secret is not configured in the payment settings.' );
			return array( 401, array( 'result' => 'error', 'message' => 'Webhook secret not configured' ) );
		}
		$signature = isset( $payload['signature'] ) && is_string( $payload['signature'] ) ? $payload['signature'] : '';
		if ( ! hash_equals( self::expected_signature( $payload, $this->secret ), $signature ) ) {
			$this->log( 'warning', 'Webhook refused: invalid signature.' );
			return array( 401, array( 'result' => 'error', 'message' => 'Invalid signature' ) );
		}

		$external_id = isset( $payload['external_invoice_id'] ) ? $payload['external_invoice_id'] : '';
		$order_id    = self::order_id_from_external_id( $external_id );
		$order       = $order_id ? wc_get_order( $order_id ) : false;
		if ( ! $order ) {
			// Not an order of this shop (another plugin's invoice, or a deleted order): nothing to retry.
			return array( 200, array( 'result' => 'ignored', 'reason' => 'unknown order' ) );
		}

		$event_id = isset( $payload['event_id'] ) ? (string) $payload['event_id'] : '';
		$seen     = $order->get_meta( self::META_EVENTS );
		$seen     = is_array( $seen ) ? $seen : array();
		if ( '' !== $event_id && in_array( $event_id, $seen, true ) ) {
			return array( 200, array( 'result' => 'duplicate' ) );
		}

		$number = isset( $payload['invoice_number'] ) ? (string) $payload['invoice_number'] : '';
		if ( (string) $order->get_meta( self::META_INVOICE ) !== $number ) {
			// The buyer paid an invoice this order no longer uses (its total changed): the merchant decides.
			$order->add_order_note(
				sprintf(
					/* translators: 1: event, 2: invoice number */
					__( 'Voltbridge: %1$s for invoice %2$s, which this order no longer uses (its total changed). Check the payment before shipping or refunding.', 'voltbridge-woocommerce' ),
					$this->text( $payload, 'event_type' ),
					$number
				)
			);
			$action = 'note_superseded';
		} else {
			$action = $this->apply( $order, $payload );
		}

		if ( '' !== $event_id ) {
			$seen[] = $event_id;
			$order->update_meta_data( self::META_EVENTS, array_slice( $seen, -self::EVENTS_KEPT ) );
		}
		$order->save();
		return array( 200, array( 'result' => 'ok', 'action' => $action ) );
	}

	/**
	 * One event on one order (dispatch table); returns what was done.
	 *
	 * @param WC_Order $order   The order.
	 * @param array    $payload Verified webhook payload.
	 * @return string
	 */
	private function apply( $order, array $payload ) {
		$handlers = array(
			'payment_received'         => 'on_payment_received',
			'payment_completed'        => 'on_payment_completed',
			'partial_payment_received' => 'on_partial_payment',
			'invoice_expired'          => 'on_expired',
			'overpayment_detected'     => 'on_overpayment',
			'payment_cancelled'        => 'on_cancelled',
		);
		$event = $this->text( $payload, 'event_type' );
		if ( ! isset( $handlers[ $event ] ) ) {
			return 'ignored';
		}
		return $this->{$handlers[ $event ]}( $order, $payload );
	}

	/**
	 * Full amount seen on chain, not final yet: hold the order.
	 */
	private function on_payment_received( $order, array $payload ) {
		if ( $order->is_paid() || $order->has_status( 'on-hold' ) ) {
			return 'none';
		}
		$late = ! empty( $payload['is_paid_late'] ) ? ' ' . __( 'It arrived after the invoice expired.', 'voltbridge-woocommerce' ) : '';
		$order->update_status(
			'on-hold',
			sprintf(
				/* translators: 1: amount, 2: currency, 3: transaction id */
				__( 'Voltbridge: payment of %1$s %2$s seen (transaction %3$s), waiting for finality.', 'voltbridge-woocommerce' ),
				$this->text( $payload, 'amount_received_crypto' ),
				$this->text( $payload, 'paid_currency' ),
				$this->text( $payload, 'payment_tx_id' )
			) . $late
		);
		return 'on-hold';
	}

	/**
	 * Payment final: complete the payment (a late one goes to processing for the merchant to review).
	 */
	private function on_payment_completed( $order, array $payload ) {
		if ( $order->is_paid() ) {
			return 'none';
		}
		$tx = $this->text( $payload, 'payment_tx_id' );
		if ( ! empty( $payload['is_paid_late'] ) ) {
			$order->set_transaction_id( $tx );
			$order->update_status(
				'processing',
				sprintf(
					/* translators: %s: transaction id */
					__( 'Voltbridge: late payment (after the invoice expired) is final, transaction %s. Check stock and the order before shipping.', 'voltbridge-woocommerce' ),
					$tx
				)
			);
			return 'processing-late';
		}
		$order->add_order_note(
			sprintf(
				/* translators: 1: amount, 2: currency, 3: transaction id */
				__( 'Voltbridge: payment of %1$s %2$s is final (transaction %3$s).', 'voltbridge-woocommerce' ),
				$this->text( $payload, 'amount_received_crypto' ),
				$this->text( $payload, 'paid_currency' ),
				$tx
			)
		);
		$order->payment_complete( $tx );
		return 'payment-complete';
	}

	/**
	 * Part of the amount arrived: tell the merchant, keep waiting.
	 */
	private function on_partial_payment( $order, array $payload ) {
		$order->add_order_note(
			sprintf(
				/* translators: 1: received, 2: remaining, 3: currency, 4: percent */
				__( 'Voltbridge: partial payment received: %1$s, %2$s %3$s still due (%4$s%% paid).', 'voltbridge-woocommerce' ),
				$this->text( $payload, 'amount_received_crypto' ),
				$this->text( $payload, 'remaining_amount_crypto' ),
				$this->text( $payload, 'crypto_currency' ) ?: $this->text( $payload, 'paid_currency' ),
				$this->text( $payload, 'payment_progress_percentage' )
			)
		);
		return 'note';
	}

	/**
	 * The payment window closed: cancelled if nothing came, failed if part of it did.
	 */
	private function on_expired( $order, array $payload ) {
		if ( $order->is_paid() ) {
			return 'none';
		}
		if ( 'underpaid' === $this->text( $payload, 'status' ) ) {
			$order->update_status(
				'failed',
				sprintf(
					/* translators: 1: received, 2: currency */
					__( 'Voltbridge: the invoice expired part paid (%1$s %2$s received). Refund or collect the rest by hand.', 'voltbridge-woocommerce' ),
					$this->text( $payload, 'amount_received_crypto' ),
					$this->text( $payload, 'paid_currency' )
				)
			);
			return 'failed';
		}
		$order->update_status( 'cancelled', __( 'Voltbridge: the invoice expired unpaid.', 'voltbridge-woocommerce' ) );
		return 'cancelled';
	}

	/**
	 * More than the amount due arrived: the merchant may refund the difference.
	 */
	private function on_overpayment( $order, array $payload ) {
		$order->add_order_note(
			sprintf(
				/* translators: 1: received, 2: due, 3: currency */
				__( 'Voltbridge: overpaid: %1$s received for %2$s %3$s due.', 'voltbridge-woocommerce' ),
				$this->text( $payload, 'amount_received_crypto' ),
				// amount_crypto is what was received (the VOLTXT document's table); the amount due is ours.
				$this->text( $payload, 'amount_due_crypto' ) ?: $this->text( $payload, 'amount_crypto' ),
				$this->text( $payload, 'crypto_currency' )
			)
		);
		return 'note';
	}

	/**
	 * The invoice was cancelled at the gateway.
	 */
	private function on_cancelled( $order, array $payload ) {
		if ( ! $order->has_status( array( 'pending', 'on-hold' ) ) ) {
			return 'none';
		}
		$order->update_status( 'cancelled', __( 'Voltbridge: the invoice was cancelled.', 'voltbridge-woocommerce' ) );
		return 'cancelled';
	}

	/**
	 * A payload field as text for notes ('' when absent).
	 *
	 * @param array  $payload Payload.
	 * @param string $field   Field name.
	 * @return string
	 */
	private function text( array $payload, $field ) {
		if ( ! isset( $payload[ $field ] ) || ! is_scalar( $payload[ $field ] ) ) {
			return '';
		}
		return sanitize_text_field( (string) $payload[ $field ] );
	}

	/**
	 * @param string $level   Log level.
	 * @param string $message Message (never the secret or the signature).
	 */
	private function log( $level, $message ) {
		if ( $this->logger ) {
			$this->logger->log( $level, $message, array( 'source' => 'voltbridge' ) );
		}
	}
}
