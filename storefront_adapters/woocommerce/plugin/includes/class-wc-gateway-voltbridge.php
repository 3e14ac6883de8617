<?php
/**
 * The WooCommerce payment gateway: settings, checkout (one invoice per order and total), webhook endpoint.
 *
 * @package Voltbridge_WooCommerce
 */

defined( 'ABSPATH' ) || exit;

/**
 * Voltbridge crypto payments.
 */
class WC_Gateway_Voltbridge extends WC_Payment_Gateway {

	/** Invoices the gateway reports as closed cannot be paid any more: checkout makes a fresh one. */
	const CLOSED_STATUSES = array( 'expired', 'cancelled' );

	/**
	 * The currencies the gateway prices invoices in (gateway_core/domain/money.py FIAT_EXPONENTS; the suite
	 * checks that the two lists agree). Elsewhere the method is hidden: an invoice could not be created.
	 */
	const PRICED_CURRENCIES = array( 'AED', 'AUD', 'BRL', 'CAD', 'CHF', 'CNY', 'CZK', 'DKK', 'EUR', 'GBP', 'HKD', 'HUF', 'INR', 'JPY', 'KRW', 'MXN', 'NOK', 'NZD', 'PLN', 'SEK', 'SGD', 'TRY', 'USD', 'ZAR' );

	/**
	 * Sets the gateway up and hooks its endpoints.
	 */
	public function __construct() {
		$this->id                 = 'voltbridge';
		$this->has_fields         = false;
		$this->method_title       = __( 'Voltbridge crypto payments', 'voltbridge-woocommerce' );
		$this->method_description = __( 'Buyers pay in SOL, USDC or USDT on your own voltbridge gateway.', 'voltbridge-woocommerce' );
		$this->supports           = array( 'products' );

		$this->init_form_fields();
		$this->init_settings();
		$this->title       = $this->get_option( 'title' );
		$this->description = $this->get_option( 'description' );

		add_action( 'woocommerce_update_options_payment_gateways_' . $this->id, array( $this, 'process_admin_options' ) );
		add_action( 'woocommerce_api_voltbridge', array( $this, 'handle_webhook' ) );
		add_action( 'woocommerce_thankyou_' . $this->id, array( $this, 'thankyou_page' ) );
	}

	/**
	 * Settings: gateway base URL, API key, webhook secret, network, expiry hours.
	 */
	public function init_form_fields() {
		$this->form_fields = array(
			'enabled'         => array(
				'title'   => __( 'Enable', 'voltbridge-woocommerce' ),
				'type'    => 'checkbox',
				'label'   => __( 'Accept crypto payments through voltbridge', 'voltbridge-woocommerce' ),
				'default' => 'no',
			),
			'title'           => array(
				'title'   => __( 'Title', 'voltbridge-woocommerce' ),
				'type'    => 'text',
				'default' => __( 'Crypto (SOL, USDC, USDT)', 'voltbridge-woocommerce' ),
			),
			'description'     => array(
				'title'   => __( 'Description', 'voltbridge-woocommerce' ),
				'type'    => 'textarea',
				'default' => __( 'You will be redirected to a secure page to pay with your wallet.', 'voltbridge-woocommerce' ),
			),
			'base_url'        => array(
				'title'       => __( 'Gateway URL', 'voltbridge-woocommerce' ),
				'type'        => 'text',
				'description' => __( 'Base URL of your voltbridge gateway, e.g. https://pay.example.com', 'voltbridge-woocommerce' ),
				'default'     => '',
			),
			'api_key'         => array(
				'title'       => __( 'API key', 'voltbridge-woocommerce' ),
				'type'        => 'password',
				'description' => __( 'The store\'s 32-character API key (voltbridge store create / key rotate).', 'voltbridge-woocommerce' ),
				'default'     => '',
			),
			'webhook_secret'  => array(
				'title'       => __( 'Webhook secret', 'voltbridge-woocommerce' ),
				'type'        => 'password',
				'description' => sprintf(
					/* translators: %s: webhook URL */
					__( 'The store\'s webhook secret (printed by voltbridge store create). The gateway calls %s for every invoice event.', 'voltbridge-woocommerce' ),
					WC()->api_request_url( 'voltbridge' )
				),
				'default'     => '',
			),
			'network'         => array(
				'title'   => __( 'Network', 'voltbridge-woocommerce' ),
				'type'    => 'select',
				'options' => array(
					'testnet' => __( 'Testnet (sandbox and devnet stores)', 'voltbridge-woocommerce' ),
					'mainnet' => __( 'Mainnet', 'voltbridge-woocommerce' ),
				),
				'default' => 'testnet',
			),
			'expiry_hours'    => array(
				'title'             => __( 'Invoice expiry (hours)', 'voltbridge-woocommerce' ),
				'type'              => 'number',
				'default'           => '24',
				'custom_attributes' => array(
					'min' => '1',
					'max' => '168',
				),
			),
			'test_connection' => array(
				'title' => __( 'Connection', 'voltbridge-woocommerce' ),
				'type'  => 'voltbridge_test_connection',
			),
		);
	}

	/**
	 * A "test connection" link, with a nonce, to the admin-post handler.
	 *
	 * @param string $key  Field key.
	 * @param array  $data Field definition.
	 * @return string HTML.
	 */
	public function generate_voltbridge_test_connection_html( $key, $data ) {
		$url = wp_nonce_url( admin_url( 'admin-post.php?action=voltbridge_test_connection' ), 'voltbridge_test_connection' );
		return '<tr valign="top"><th scope="row" class="titledesc">' . esc_html( $data['title'] ) . '</th><td class="forminp">'
			. '<a class="button" href="' . esc_url( $url ) . '">' . esc_html__( 'Test connection (save first)', 'voltbridge-woocommerce' ) . '</a></td></tr>';
	}

	/**
	 * @param string $key   Field key.
	 * @param string $value Submitted value.
	 * @return string
	 */
	public function validate_base_url_field( $key, $value ) {
		$value = untrailingslashit( trim( (string) $value ) );
		if ( '' !== $value && ( ! preg_match( '#^https?://[^\s/]+#i', $value ) || ! Voltbridge_Client::safe_url( $value ) ) ) {
			// The API key is sent to this URL with every request: over plain http anyone on the way could read it.
			WC_Admin_Settings::add_error( __( 'Voltbridge: the gateway URL must start with https:// (http:// only for a gateway on this machine: localhost, 127.0.0.1 or [::1]).', 'voltbridge-woocommerce' ) );
			return $this->get_option( $key );
		}
		return esc_url_raw( $value );
	}

	/**
	 * Offered at checkout (classic and blocks) only when enabled and the store's currency is one the gateway
	 * prices; the admin notice says why it is hidden otherwise.
	 *
	 * @return bool
	 */
	public function is_available() {
		return parent::is_available() && self::prices( get_woocommerce_currency() );
	}

	/**
	 * Whether the gateway can price an invoice in this currency.
	 *
	 * @param string $currency ISO 4217 code.
	 * @return bool
	 */
	public static function prices( $currency ) {
		return in_array( strtoupper( (string) $currency ), self::PRICED_CURRENCIES, true );
	}

	/**
	 * @param string $key   Field key.
	 * @param string $value Submitted value.
	 * @return string
	 */
	public function validate_api_key_field( $key, $value ) {
		$value = trim( (string) $value );
		if ( '' !== $value && 32 !== strlen( $value ) ) {
			WC_Admin_Settings::add_error( __( 'Voltbridge: the API key has 32 characters; the previous key was kept.', 'voltbridge-woocommerce' ) );
			return $this->get_option( $key );
		}
		return $value;
	}

	/**
	 * @param string $key   Field key.
	 * @param string $value Submitted value.
	 * @return string
	 */
	public function validate_expiry_hours_field( $key, $value ) {
		$hours = absint( $value );
		if ( $hours < 1 || $hours > 168 ) {
			WC_Admin_Settings::add_error( __( 'Voltbridge: invoice expiry must be between 1 and 168 hours.', 'voltbridge-woocommerce' ) );
			return $this->get_option( $key );
		}
		return (string) $hours;
	}

	/**
	 * The configured API client.
	 *
	 * @return Voltbridge_Client
	 */
	public function client() {
		return new Voltbridge_Client( $this->get_option( 'base_url' ), $this->get_option( 'api_key' ), $this->get_option( 'network', 'testnet' ) );
	}

	/**
	 * One external id per order and total: a retry reuses the invoice, a changed total gets a new one.
	 *
	 * @param WC_Order $order   The order.
	 * @param int      $attempt Fresh invoices made after earlier ones closed unpaid.
	 * @return string
	 */
	public static function external_id( $order, $attempt = 0 ) {
		$total       = wc_format_decimal( $order->get_total(), wc_get_price_decimals() );
		$fingerprint = substr( hash( 'sha256', $total . '|' . $order->get_currency() ), 0, 12 );
		return 'wc-' . $order->get_id() . '-' . $fingerprint . ( $attempt > 0 ? '-r' . $attempt : '' );
	}

	/**
	 * Creates (or reuses) the order's invoice and sends the buyer to its payment page.
	 *
	 * @param int $order_id Order id.
	 * @return array
	 */
	public function process_payment( $order_id ) {
		$order = wc_get_order( $order_id );
		if ( ! $order ) {
			wc_add_notice( __( 'This order could not be found.', 'voltbridge-woocommerce' ), 'error' );
			return array( 'result' => 'failure' );
		}
		try {
			$invoice = $this->open_invoice( $order );
		} catch ( Voltbridge_Api_Error $error ) {
			$order->add_order_note(
				sprintf(
					/* translators: 1: error message, 2: error code */
					__( 'Voltbridge: the invoice could not be created: %1$s (%2$s).', 'voltbridge-woocommerce' ),
					$error->getMessage(),
					$error->error_code
				)
			);
			$order->save();
			$this->log( 'error', sprintf( 'Order %d: invoice not created: %s (%s)', $order->get_id(), $error->getMessage(), $error->error_code ) );
			wc_add_notice( $this->buyer_message( $error ), 'error' );
			return array( 'result' => 'failure' );
		}
		return array(
			'result'   => 'success',
			'redirect' => $invoice['payment_url'],
		);
	}

	/**
	 * The invoice for the order's current total: reused when it is still payable, else a fresh one.
	 *
	 * @param WC_Order $order The order.
	 * @return array The invoice.
	 * @throws Voltbridge_Api_Error When the gateway refuses or cannot be reached.
	 */
	private function open_invoice( $order ) {
		$attempt = 0;
		do {
			$external_id = self::external_id( $order, $attempt );
			$answer      = $this->client()->create_invoice( $this->invoice_fields( $order, $external_id ) );
			$invoice     = $answer['invoice'];
			$status      = (string) ( isset( $invoice['lifecycle_status'] ) ? $invoice['lifecycle_status'] : ( isset( $invoice['status'] ) ? $invoice['status'] : 'pending' ) );
			++$attempt;
		} while ( in_array( $status, self::CLOSED_STATUSES, true ) && $attempt < 5 );
		if ( in_array( $status, self::CLOSED_STATUSES, true ) ) {
			throw new Voltbridge_Api_Error( 'Every invoice for this order has expired.', 'EXPIRED_INVOICE', 409 );
		}

		$number   = (string) $invoice['invoice_number'];
		$previous = (string) $order->get_meta( Voltbridge_Webhook::META_INVOICE );
		$order->update_meta_data( Voltbridge_Webhook::META_INVOICE, $number );
		$order->update_meta_data( Voltbridge_Webhook::META_EXPIRES_AT, $this->expires_at( $invoice ) );
		$order->update_meta_data( Voltbridge_Webhook::META_EXTERNAL_ID, $external_id );
		$order->update_meta_data( Voltbridge_Webhook::META_PAYMENT_URL, esc_url_raw( $invoice['payment_url'] ) );
		if ( $previous !== $number ) {
			$order->add_order_note(
				sprintf(
					/* translators: 1: invoice number, 2: amount, 3: currency */
					__( 'Voltbridge: invoice %1$s created for %2$s %3$s.', 'voltbridge-woocommerce' ),
					$number,
					wc_format_decimal( $order->get_total(), wc_get_price_decimals() ),
					$order->get_currency()
				)
			);
		}
		$order->save();
		return $invoice;
	}

	/**
	 * When the invoice stops taking payments (Unix time): the gateway's expiry_date, else the configured hours.
	 *
	 * @param array $invoice The gateway's invoice.
	 * @return int
	 */
	private function expires_at( array $invoice ) {
		$given = isset( $invoice['expiry_date'] ) && is_string( $invoice['expiry_date'] ) ? strtotime( $invoice['expiry_date'] ) : false;
		return false !== $given ? (int) $given : time() + 3600 * (int) $this->get_option( 'expiry_hours', '24' );
	}

	/**
	 * The VOLTXT create-invoice fields for the order.
	 *
	 * @param WC_Order $order       The order.
	 * @param string   $external_id Its external invoice id.
	 * @return array
	 */
	private function invoice_fields( $order, $external_id ) {
		return array(
			'platform'            => 'woocommerce',
			'external_invoice_id' => $external_id,
			'amount_type'         => 'fiat',
			// A decimal string, never a float: the gateway reads it exactly.
			'amount'              => wc_format_decimal( $order->get_total(), wc_get_price_decimals() ),
			'fiat_currency'       => $order->get_currency(),
			'expiry_hours'        => (int) $this->get_option( 'expiry_hours', '24' ),
			/* translators: 1: order number, 2: shop name */
			'description'         => sprintf( __( 'Order %1$s at %2$s', 'voltbridge-woocommerce' ), $order->get_order_number(), get_bloginfo( 'name' ) ),
			'customer_email'      => $order->get_billing_email(),
			'customer_name'       => trim( $order->get_billing_first_name() . ' ' . $order->get_billing_last_name() ),
			'callback_url'        => WC()->api_request_url( 'voltbridge' ),
			'success_url'         => $this->get_return_url( $order ),
			'cancel_url'          => $order->get_cancel_order_url_raw(),
			'metadata'            => array(
				'order_id'    => $order->get_id(),
				'order_key'   => $order->get_order_key(),
				'customer_id' => $order->get_customer_id(),
			),
		);
	}

	/**
	 * What the buyer sees when checkout cannot create the invoice (the details go to the order note and log).
	 *
	 * @param Voltbridge_Api_Error $error The failure.
	 * @return string
	 */
	private function buyer_message( $error ) {
		if ( in_array( $error->error_code, array( 'AMOUNT_TOO_LOW', 'AMOUNT_TOO_HIGH' ), true ) ) {
			return __( 'This order total cannot be paid in crypto. Please choose another payment method.', 'voltbridge-woocommerce' );
		}
		return __( 'Crypto payment is unavailable right now. Please try again in a moment or choose another payment method.', 'voltbridge-woocommerce' );
	}

	/**
	 * The wc-api endpoint (?wc-api=voltbridge): the gateway's invoice callback webhook.
	 */
	public function handle_webhook() {
		$webhook = new Voltbridge_Webhook( $this->get_option( 'webhook_secret' ), wc_get_logger() );
		list( $status, $body ) = $webhook->handle( $this->request_body() );
		wp_send_json( $body, $status );
	}

	/**
	 * The raw request body (the signature covers the payload fields as sent).
	 *
	 * @return string
	 */
	protected function request_body() {
		return (string) file_get_contents( 'php://input' );
	}

	/**
	 * Thank-you page: the invoice and, while unpaid, the way back to its payment page.
	 *
	 * @param int $order_id Order id.
	 */
	public function thankyou_page( $order_id ) {
		$order = wc_get_order( $order_id );
		if ( ! $order ) {
			return;
		}
		$number = (string) $order->get_meta( Voltbridge_Webhook::META_INVOICE );
		$url    = (string) $order->get_meta( Voltbridge_Webhook::META_PAYMENT_URL );
		if ( '' === $number ) {
			return;
		}
		echo '<p>' . esc_html(
			sprintf(
				/* translators: %s: invoice number */
				__( 'Crypto invoice %s.', 'voltbridge-woocommerce' ),
				$number
			)
		) . '</p>';
		if ( $order->has_status( 'pending' ) && '' !== $url ) {
			echo '<p><a class="button" href="' . esc_url( $url ) . '">' . esc_html__( 'Open the payment page', 'voltbridge-woocommerce' ) . '</a></p>';
		}
	}

	/**
	 * @param string $level   Log level.
	 * @param string $message Message (never the API key).
	 */
	private function log( $level, $message ) {
		wc_get_logger()->log( $level, $message, array( 'source' => 'voltbridge' ) );
	}
}
