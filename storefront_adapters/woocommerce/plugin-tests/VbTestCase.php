<?php
/**
 * Fresh stub state for every test: options, notices, HTTP log, capabilities, and an empty order store.
 */

use PHPUnit\Framework\TestCase;

abstract class VbTestCase extends TestCase {

	const SECRET  = 'whsec-test-0123456789abcdef';
	const API_KEY = 'abcdefghijklmnopqrstuvwxyz012345';

	/** @var string|null */
	private $store_file;

	protected function setUp(): void {
		parent::setUp();
		$this->store_file = tempnam( sys_get_temp_dir(), 'vb-orders-' );
		putenv( 'VB_ORDER_STORE=' . $this->store_file );
		VB_Order_Store::reset();
		$GLOBALS['vb_notices']    = array();
		$GLOBALS['vb_log']        = array();
		$GLOBALS['vb_http_log']   = array();
		$GLOBALS['vb_http_queue'] = null;
		$GLOBALS['vb_caps']       = array( 'manage_woocommerce' => true );
		$GLOBALS['vb_nonce_ok']   = true;
		$GLOBALS['vb_transients'] = array();
		WC_Admin_Settings::$errors = array();
		$GLOBALS['vb_wc']          = null; // a new request: gateways read their settings afresh
		$GLOBALS['vb_scripts']     = array();
		delete_option( 'woocommerce_currency' );
		update_option(
			'woocommerce_voltbridge_settings',
			array(
				'enabled'        => 'yes',
				'base_url'       => 'https://gateway.test',
				'api_key'        => self::API_KEY,
				'webhook_secret' => self::SECRET,
				'network'        => 'testnet',
				'expiry_hours'   => '24',
			)
		);
	}

	protected function tearDown(): void {
		VB_Order_Store::reset();
		putenv( 'VB_ORDER_STORE' );
		parent::tearDown();
	}

	/** A canned WordPress HTTP answer. */
	protected static function answer( $status, array $json ) {
		return array(
			'response' => array( 'code' => $status, 'message' => '' ),
			'body'     => json_encode( $json ),
			'headers'  => array(),
		);
	}

	/** A gateway create-invoice answer as the VOLTXT contract shapes it (flat fields and under "invoice"). */
	protected static function invoice_answer( $number, $external_id, $status = 'pending', $code = 201 ) {
		$invoice = array(
			'invoice_number'      => $number,
			'payment_url'         => 'https://gateway.test/pay/' . $number,
			'external_invoice_id' => $external_id,
			'status'              => $status,
			'lifecycle_status'    => $status,
		);
		return self::answer( $code, array_merge( array( 'success' => true ), $invoice, array( 'invoice' => $invoice ) ) );
	}

	/** A webhook body signed the way the VOLTXT spec's verifyInvoiceWebhook expects. */
	protected static function signed( array $payload, $secret = self::SECRET ) {
		$payload['signature'] = hash_hmac(
			'sha256',
			$payload['invoice_number'] . $payload['external_invoice_id'] . $payload['event_type'] . $payload['status'] . $payload['network'],
			$secret
		);
		return json_encode( $payload );
	}

	protected function order( $id ) {
		$order = wc_get_order( $id );
		$this->assertNotFalse( $order, "order $id exists" );
		return $order;
	}
}
