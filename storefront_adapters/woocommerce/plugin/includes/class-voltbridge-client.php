<?php
/**
 * The gateway's VOLTXT plugin API as this plugin calls it (POST /api/plugin/..., API key in the JSON body).
 *
 * @package Voltbridge_WooCommerce
 */

defined( 'ABSPATH' ) || exit;

/**
 * A refusal or failure of the gateway, with the VOLTXT error code when the gateway gave one.
 */
class Voltbridge_Api_Error extends Exception {

	/**
	 * VOLTXT error_code (e.g. DUPLICATE_EXTERNAL_ID), or HTTP_ERROR when the gateway could not be reached.
	 *
	 * @var string
	 */
	public $error_code;

	/**
	 * HTTP status of the answer (0 without one).
	 *
	 * @var int
	 */
	public $http_status;

	/**
	 * @param string $message     What went wrong, for the order note and the log.
	 * @param string $error_code  VOLTXT error code.
	 * @param int    $http_status HTTP status.
	 */
	public function __construct( $message, $error_code, $http_status ) {
		parent::__construct( $message );
		$this->error_code  = $error_code;
		$this->http_status = $http_status;
	}
}

/**
 * Talks to one voltbridge gateway with one store API key.
 */
class Voltbridge_Client {

	/** @var string */
	private $base_url;

	/** @var string */
	private $api_key;

	/** @var string */
	private $network;

	/** @var int */
	private $timeout;

	/**
	 * @param string $base_url Gateway base URL, e.g. https://pay.example.com.
	 * @param string $api_key  The store's 32-character API key.
	 * @param string $network  testnet or mainnet (must match the store's network).
	 * @param int    $timeout  Seconds to wait for the gateway at checkout.
	 */
	public function __construct( $base_url, $api_key, $network, $timeout = 20 ) {
		$this->base_url = untrailingslashit( (string) $base_url );
		$this->api_key  = (string) $api_key;
		$this->network  = (string) $network;
		$this->timeout  = (int) $timeout;
	}

	/**
	 * Whether the API key may be sent to this gateway URL: https, or http to this machine (localhost, 127.0.0.1,
	 * [::1]) for a local test gateway.
	 *
	 * @param string $url Gateway base URL.
	 * @return bool
	 */
	public static function safe_url( $url ) {
		$parts  = wp_parse_url( (string) $url );
		$scheme = isset( $parts['scheme'] ) ? strtolower( $parts['scheme'] ) : '';
		$host   = isset( $parts['host'] ) ? strtolower( trim( $parts['host'], '[]' ) ) : '';
		if ( '' === $host || isset( $parts['user'] ) || isset( $parts['pass'] ) ) {
			return false;
		}
		if ( 'https' === $scheme ) {
			return true;
		}
		$local = in_array( $host, array( 'localhost', '127.0.0.1', '::1' ), true ) || '.localhost' === substr( $host, -10 );
		return 'http' === $scheme && $local;
	}

	/**
	 * Creates the invoice, or gets the existing one back for an identical retry (same external id and total).
	 *
	 * @param array $fields Invoice fields of the VOLTXT create request (without api_key and network).
	 * @return array{created: bool, invoice: array}
	 * @throws Voltbridge_Api_Error When the gateway refuses or cannot be reached.
	 */
	public function create_invoice( array $fields ) {
		list( $status, $data ) = $this->post( '/api/plugin/invoice/create', $fields );
		$invoice = isset( $data['invoice'] ) && is_array( $data['invoice'] ) ? $data['invoice'] : $data;
		if ( empty( $invoice['invoice_number'] ) || empty( $invoice['payment_url'] ) ) {
			throw new Voltbridge_Api_Error( 'The gateway answered without an invoice number or payment URL.', 'BAD_RESPONSE', $status );
		}
		return array(
			'created' => 201 === $status,
			'invoice' => $invoice,
		);
	}

	/**
	 * Checks the base URL, the key and the network: the store as the gateway knows it.
	 *
	 * @return array The `data` object (store, user).
	 * @throws Voltbridge_Api_Error When the gateway refuses or cannot be reached.
	 */
	public function test_connection() {
		list( , $data ) = $this->post(
			'/api/plugin/test-connection',
			array(
				'platform' => 'woocommerce',
				'version'  => VOLTBRIDGE_WC_VERSION,
			)
		);
		return isset( $data['data'] ) && is_array( $data['data'] ) ? $data['data'] : array();
	}

	/**
	 * One POST with the key and network in the body; any non-2xx or "success": false is an error.
	 *
	 * @param string $path API path.
	 * @param array  $body Request fields.
	 * @return array{0: int, 1: array}
	 * @throws Voltbridge_Api_Error On any failure.
	 */
	private function post( $path, array $body ) {
		if ( '' === $this->base_url || '' === $this->api_key ) {
			throw new Voltbridge_Api_Error( 'The gateway URL or API key is not configured.', 'NOT_CONFIGURED', 0 );
		}
		if ( ! self::safe_url( $this->base_url ) ) {
			// The key travels in the body: never in clear over a network (a URL saved before this check existed).
			throw new Voltbridge_Api_Error( 'The gateway URL must use https:// (http:// only for a gateway on this machine).', 'INSECURE_GATEWAY_URL', 0 );
		}
		$body['api_key'] = $this->api_key;
		$body['network'] = $this->network;
		$response        = wp_remote_post(
			$this->base_url . $path,
			array(
				'headers'     => array(
					'Content-Type' => 'application/json',
					'Accept'       => 'application/json',
					'User-Agent'   => 'voltbridge-woocommerce/' . VOLTBRIDGE_WC_VERSION,
				),
				'body'        => wp_json_encode( $body ),
				'timeout'     => $this->timeout,
				'redirection' => 0,
				'data_format' => 'body',
			)
		);
		if ( is_wp_error( $response ) ) {
			throw new Voltbridge_Api_Error( $response->get_error_message(), 'HTTP_ERROR', 0 );
		}
		$status = (int) wp_remote_retrieve_response_code( $response );
		$data   = json_decode( (string) wp_remote_retrieve_body( $response ), true );
		if ( ! is_array( $data ) ) {
			throw new Voltbridge_Api_Error( sprintf( 'The gateway answered HTTP %d without JSON.', $status ), 'BAD_RESPONSE', $status );
		}
		if ( $status < 200 || $status >= 300 || empty( $data['success'] ) ) {
			$message = isset( $data['message'] ) ? $data['message'] : ( isset( $data['error'] ) ? $data['error'] : 'Unknown error' );
			$code    = isset( $data['error_code'] ) ? (string) $data['error_code'] : 'UNKNOWN';
			throw new Voltbridge_Api_Error( (string) $message, $code, $status );
		}
		return array( $status, $data );
	}
}
